// Where `tether web` listens. By default a unix socket, mode 0600, in the
// scan directory's .tether/ (mode 0700, ours, never a symlink): whoever can
// open the socket may use the API, and a browser cannot. TCP is loopback only
// and needs a token, kept in a 0600 file beside the default socket.
import {
  closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, unlinkSync, writeSync,
} from 'node:fs';
import { connect, type Server } from 'node:net';
import { join } from 'node:path';
import { describe } from '../base/errno';
import { EXIT_SYSTEM, Failure, usageError } from '../base/exit';
import type { Listen } from './guard';

/** `unix:PATH`, `127.0.0.1:PORT` or `[::1]:PORT`; nothing else, so never a public address. */
export function parseListen(text: string): Listen {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (path === '') throw usageError('--listen unix: needs a path');
    return { kind: 'unix', path };
  }
  const m = /^(127\.0\.0\.1|\[::1\]):([0-9]{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw usageError(`--listen must be unix:PATH, 127.0.0.1:PORT or [::1]:PORT, not ${text}`);
  return { kind: 'tcp', host: m[1] === '127.0.0.1' ? '127.0.0.1' : '::1', port: Number(m[2]) };
}

/**
 * Makes `dir` (mode 0700) if missing, and checks without following a
 * symlink that it is a directory of ours; tightens its mode if needed.
 */
export function privateDir(dir: string): string {
  try {
    mkdirSync(dir, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Failure(`unable to create ${dir}: ${describe(err)}`, EXIT_SYSTEM);
  }
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new Failure(`unable to open ${dir} (it must be a directory, not a symlink): ${describe(err)}`, EXIT_SYSTEM);
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== process.geteuid!()) throw new Failure(`${dir} belongs to uid ${st.uid}, not to us`, EXIT_SYSTEM);
    if ((st.mode & 0o777) !== 0o700) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
  return dir;
}

/** The default directory for the socket and the token file: SCANDIR/.tether. */
export function stateDir(firstOperand: string): string {
  return privateDir(join(firstOperand, '.tether'));
}

/** Writes the token to a fresh 0600 file; a symlink in its place is refused, not followed. */
export function writeTokenFile(path: string, token: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new Failure(`unable to write ${path}: ${describe(err)}`, EXIT_SYSTEM);
  }
  try {
    if (fstatSync(fd).uid !== process.geteuid!()) throw new Failure(`${path} belongs to another user`, EXIT_SYSTEM);
    fchmodSync(fd, 0o600);
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
}

/** A socket file left by a dead instance is removed; a live one, or any other file, is an error. */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Failure(`${path} exists and is not a socket`, EXIT_SYSTEM);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (live) throw new Failure(`${path}: another tether web is listening there`, EXIT_SYSTEM);
  unlinkSync(path);
}

/** Binds `server`; resolves with the TCP port, or 0 on a unix socket. */
export async function bind(server: Server, listen: Listen): Promise<number> {
  if (listen.kind === 'unix') await clearStaleSocket(listen.path);
  // The socket file is born 0600: no window where another user could connect.
  const umask = listen.kind === 'unix' ? process.umask(0o177) : null;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (listen.kind === 'unix') server.listen(listen.path, resolve);
      else server.listen({ host: listen.host, port: listen.port, exclusive: true }, resolve);
    });
  } catch (err) {
    const where = listen.kind === 'unix' ? listen.path : `${listen.host}:${listen.port}`;
    throw new Failure(`unable to listen on ${where}: ${describe(err)}`, EXIT_SYSTEM);
  } finally {
    if (umask !== null) process.umask(umask);
  }
  const addr = server.address();
  return typeof addr === 'object' && addr !== null ? addr.port : 0;
}
