// tether svscan: supervise a whole tree of service directories, also as a
// container's PID 1. Node cannot exec(), so `.s6-svscan/finish` and
// `.s6-svscan/crash` are spawned with our stdio and we exit with their status.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, lstatSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cloexecStrayFds } from '../os/native';
import { reaper } from '../os/reaper';
import { CONTROL_DIR, ScanStartError } from '../scan/controldir';
import { SVSCAN_USAGE, UsageError, defaultSupervisor, parseSvscanArgs } from '../scan/options';
import { Scanner } from '../scan/scanner';
import { InProcessLauncher, ProcessLauncher } from '../scan/handle';
import { fdBudgetProblem } from '../scan/fdbudget';
import { ensureStdFds } from '../supervise/host';
import { collectStartupGarbage } from '../os/heap';
import { constants as osConstants } from 'node:os';

const PROG = 'tether svscan';

function warn(message: string): void {
  process.stderr.write(`${PROG}: warning: ${message}\n`);
}

function fatal(message: string, code: number): never {
  process.stderr.write(`${PROG}: fatal: ${message}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  let args;
  try {
    args = parseSvscanArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${PROG}: usage error: ${err.message}\n${SVSCAN_USAGE}`);
    process.exit(100);
  }
  if (args.help) {
    process.stdout.write(SVSCAN_USAGE);
    return;
  }
  const scandir = resolve(args.scandir);
  try {
    if (!statSync(scandir).isDirectory()) fatal(`${args.scandir} is not a directory`, 111);
  } catch (err) {
    fatal(`unable to use ${args.scandir}: ${(err as NodeJS.ErrnoException).code ?? err}`, 111);
  }
  const readinessFd = args.readinessFd;
  if (readinessFd !== undefined) {
    try {
      fstatSync(readinessFd);
    } catch {
      fatal(`-d ${readinessFd}: that file descriptor is not open`, 100);
    }
  }
  // Inherited fds must not leak into every supervisor and service.
  cloexecStrayFds();
  process.on('uncaughtException', (err) => crash(scandir, err));

  const launcher = args.shared
    ? new InProcessLauncher(scandir, warn)
    // A relative PROG is taken from here, not from SCANDIR where supervisors start.
    : new ProcessLauncher(args.supervisor?.map((p) => (p.includes('/') ? resolve(p) : p)) ?? defaultSupervisor(__dirname), scandir);
  if (args.shared) {
    const problem = fdBudgetProblem(scandir);
    if (problem) fatal(problem, 111);
    // Services inherit fds 0-2 from us directly: each must be open.
    ensureStdFds();
    process.stderr.on('error', () => {});
  }
  const scanner = new Scanner({
    scandir,
    rescanMs: args.rescanMs,
    maxServices: args.maxServices,
    watch: args.watch,
    launcher,
    onStartupReady: readinessFd === undefined ? undefined : () => announceReady(readinessFd),
    warn,
  });
  try {
    scanner.start();
    if (launcher instanceof InProcessLauncher) collectStartupGarbage();
  } catch (err) {
    if (err instanceof ScanStartError) fatal(err.message, err.exitCode);
    fatal(`unable to start on ${args.scandir}: ${(err as Error).message}`, 111);
  }
  await scanner.ended;
  process.exit(await runFinish(scanner, scandir));
}

/**
 * `.s6-svscan/finish` ends the scanner, as s6-svscan execs into it. One that
 * exists but cannot run is a failure, as in s6: warned about, then crash
 * runs if there is one, else 111.
 */
async function runFinish(scanner: Scanner, scandir: string): Promise<number> {
  const finish = scanner.program('finish');
  if (finish) return runProgram(finish, scandir);
  const path = join(scandir, CONTROL_DIR, 'finish');
  let problem: string;
  try {
    lstatSync(path);
    accessSync(path, constants.X_OK);
    problem = 'it is a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 0;
    problem = code ?? String(err);
  }
  warn(`unable to run ${path}: ${problem}`);
  const crash = scanner.program('crash');
  return crash ? runProgram(crash, scandir) : 111;
}

function announceReady(fd: number): void {
  try {
    writeSync(fd, '\n');
    closeSync(fd);
  } catch (err) {
    warn(`unable to write readiness to fd ${fd}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Runs a `.s6-svscan/` program with our stdio, in place of s6's exec; resolves with its exit code. */
function runProgram(program: string, scandir: string): Promise<number> {
  return new Promise((res) => {
    const child = reaper.leaveToLibuv(spawn(program, [], { cwd: scandir, stdio: 'inherit' }));
    child.once('error', (err) => {
      warn(`unable to spawn ${program}: ${err.message}`);
      res(111);
    });
    child.once('exit', (code, signal) => {
      res(signal ? 128 + (osConstants.signals[signal] ?? 0) : code ?? 0);
    });
  });
}

let crashing = false;
/** A fatal internal error: run `.s6-svscan/crash` if there is one, else exit 111. */
function crash(scandir: string, err: Error): void {
  if (crashing) process.exit(111);
  crashing = true;
  process.stderr.write(`${PROG}: fatal: ${err.stack ?? err.message}\n`);
  const program = join(scandir, CONTROL_DIR, 'crash');
  try {
    accessSync(program, constants.X_OK);
  } catch {
    process.exit(111);
  }
  runProgram(program, scandir).then(
    (code) => process.exit(code),
    () => process.exit(111),
  );
}
