// Logger test plumbing: run `tether log` or Debian's s6-log on some input,
// and read a logdir back with its time stamps masked, so the two compare.
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BOUND_MS, TETHER, bounded } from '../lib/harness';

export const S6_LOG = '/usr/bin/s6-log';
export const HAVE_S6_LOG = existsSync(S6_LOG);

export interface Fed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program with `input` on its stdin (a pipe), to its exit. */
export function feed(cmd: string, args: string[], input: Buffer | string, opts: SpawnOptions & { ms?: number } = {}): Promise<Fed> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(input);
  return bounded(new Promise<Fed>((res) => child.on('close', (code, signal) => res({ code, signal, stdout: Buffer.concat(out), stderr }))), opts.ms ?? BOUND_MS, `${cmd} ${args.join(' ')}`);
}

export function tetherLog(args: string[], input: Buffer | string, opts: SpawnOptions & { ms?: number } = {}): Promise<Fed> {
  return feed(process.execPath, [TETHER, 'log', ...args], input, opts);
}

export function s6Log(args: string[], input: Buffer | string, opts: SpawnOptions & { ms?: number } = {}): Promise<Fed> {
  return feed(S6_LOG, args, input, opts);
}

/** TAI64N and local-time stamps replaced by fixed text. */
export function mask(text: string): string {
  return text.replace(/@[0-9a-f]{24}/g, '@TAI64N').replace(/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}/g, 'LOCALTIME');
}

export const ARCHIVE = /^@[0-9a-f]{24}\.[su]$/;

/** Archives oldest first. */
export function archives(dir: string): string[] {
  return readdirSync(dir).filter((n) => ARCHIVE.test(n)).sort();
}

/** Archives then current, concatenated. */
export function logdirBytes(dir: string): Buffer {
  const files = archives(dir);
  if (existsSync(join(dir, 'current'))) files.push('current');
  return Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
}

/** Every line of a logdir, oldest first, each checked for a TAI64N stamp and given without it. */
export function stampedLines(dir: string): string[] {
  return logdirBytes(dir).toString('latin1').split('\n').slice(0, -1).map((l) => {
    if (!/^@[0-9a-f]{24} /.test(l)) throw new Error(`line without a TAI64N stamp: ${JSON.stringify(l.slice(0, 80))}`);
    return l.slice(26);
  });
}

/** The directory's entries, archive stamps masked, with the u+x bit of each file. */
export function layout(dir: string): string[] {
  return readdirSync(dir).map((n) => {
    const x = (require('node:fs').statSync(join(dir, n)).mode & 0o100) !== 0;
    return `${ARCHIVE.test(n) ? `@TAI64N${n.slice(25)}` : n}${x ? '*' : ''}`;
  }).sort();
}

/** Resolves once `ready()` holds, checking at each change in `dir` (inotify, no polling). */
export function waitInDir(dir: string, ready: () => boolean, what: string, ms = BOUND_MS): Promise<void> {
  return bounded(new Promise<void>((res) => {
    const w = require('node:fs').watch(dir, () => {
      if (ready()) {
        w.close();
        res();
      }
    });
    if (ready()) {
      w.close();
      res();
    }
  }), ms, what);
}
