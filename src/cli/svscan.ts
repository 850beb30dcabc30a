// tether svscan: supervise a whole tree of service directories, also as a
// container's PID 1. Node cannot exec(), so `.s6-svscan/finish` and
// `.s6-svscan/crash` are spawned with our stdio and we exit with their status.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, lstatSync, openSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cloexecStrayFds, dup2 } from '../os/native';
import { ControllingTerminal } from '../scan/terminal';
import { reaper } from '../os/reaper';
import { CONTROL_DIR } from '../scan/controldir';
import { SVSCAN_USAGE, parseSvscanArgs, supervisorCommand } from '../scan/options';
import { Scanner } from '../scan/scanner';
import { InProcessLauncher, ProcessLauncher } from '../scan/handle';
import { ensureStdFds } from '../supervise/host';
import { atStartedFdLimit, serviceEnvObject } from '../supervise/spawn';
import { collectStartupGarbage } from '../os/heap';
import { constants as osConstants } from 'node:os';
import { EXIT_SYSTEM, EXIT_USAGE, Failure } from '../base/exit';
import { commandFromHelp, die, dieOn, dieSystem, exitOnInternalError, parseCommandLine, warn } from './lib/program';
import { errnoOf, errnoText } from '../base/errno';

const cmd = commandFromHelp('svscan', SVSCAN_USAGE);

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandLine(cmd, () => parseSvscanArgs(argv));
  const scandir = resolve(args.scandir);
  try {
    if (!statSync(scandir).isDirectory()) dieSystem(`${args.scandir} is not a directory`);
  } catch (err) {
    dieSystem(`unable to use ${args.scandir}: ${errnoText(err)}`);
  }
  const readinessFd = args.readinessFd;
  if (readinessFd !== undefined) {
    try {
      fstatSync(readinessFd);
    } catch {
      die(EXIT_USAGE, `-d ${readinessFd}: that file descriptor is not open`);
    }
  }
  // Inherited fds must not leak into every supervisor and service.
  cloexecStrayFds();
  // Asked before stdin goes: a scanner started from a terminal stops with it.
  const terminal = ControllingTerminal.open();
  // Our stdin is passed on to no service (shared mode hands services our fd 0).
  stdinFromDevNull();
  try {
    terminal?.relayOutput();
  } catch (err) {
    warn(`unable to relay output to the terminal: ${errnoText(err)}`);
  }
  exitOnInternalError(() => crash(scandir));

  const shared = args.shared ? new InProcessLauncher(scandir, warn) : undefined;
  const launcher = shared
    ?? new ProcessLauncher(supervisorCommand(args.supervisor?.[0], __dirname), scandir, { ownSupervisor: args.supervisor === undefined });
  if (shared) {
    const problem = shared.fdBudgetProblem();
    if (problem) dieSystem(problem);
    // Services inherit fds 0-2 from us directly: each must be open.
    ensureStdFds();
  }
  // A closed stderr, or a terminal that hung up before its SIGHUP came, loses a warning, never the tree.
  process.stderr.on('error', () => {});
  process.stdout.on('error', () => {});
  const scanner = new Scanner({
    scandir,
    rescanMs: args.rescanMs,
    maxServices: args.maxServices,
    graceMs: args.graceMs,
    terminal,
    watch: args.watch,
    launcher,
    onStartupReady: readinessFd === undefined ? undefined : () => announceReady(readinessFd),
    warn,
  });
  try {
    scanner.start();
    if (shared) collectStartupGarbage();
  } catch (err) {
    if (err instanceof Failure) dieOn(err);
    dieSystem(`unable to start on ${args.scandir}: ${(err as Error).message}`);
  }
  await scanner.ended;
  const code = await runFinish(scanner, scandir);
  await terminal?.finish();
  process.exit(code);
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
    const code = errnoOf(err);
    if (code === 'ENOENT') return 0;
    problem = code ?? String(err);
  }
  warn(`unable to run ${path}: ${problem}`);
  const crash = scanner.program('crash');
  return crash ? runProgram(crash, scandir) : EXIT_SYSTEM;
}

function stdinFromDevNull(): void {
  try {
    const fd = openSync('/dev/null', constants.O_RDONLY);
    if (fd !== 0) {
      dup2(fd, 0);
      closeSync(fd);
    }
  } catch (err) {
    dieSystem(`unable to point stdin at /dev/null: ${errnoText(err)}`);
  }
}

function announceReady(fd: number): void {
  try {
    writeSync(fd, '\n');
    closeSync(fd);
  } catch (err) {
    warn(`unable to write readiness to fd ${fd}: ${errnoText(err)}`);
  }
}

/** Runs a `.s6-svscan/` program with our stdio, in place of s6's exec; resolves with its exit code. */
function runProgram(program: string, scandir: string): Promise<number> {
  return new Promise((res) => {
    // At the limit we were started with: s6-svscan execs into finish, which keeps it.
    const [cmd, ...args] = atStartedFdLimit([program]);
    const child = reaper.leaveToLibuv(spawn(cmd, args, { cwd: scandir, stdio: 'inherit', env: serviceEnvObject() }));
    child.once('error', (err) => {
      warn(`unable to spawn ${program}: ${err.message}`);
      res(EXIT_SYSTEM);
    });
    child.once('exit', (code, signal) => {
      res(signal ? 128 + (osConstants.signals[signal] ?? 0) : code ?? 0);
    });
  });
}

let crashing = false;
/** After a fatal internal error (reported already): run `.s6-svscan/crash` if there is one, else exit 111. */
function crash(scandir: string): void {
  if (crashing) process.exit(EXIT_SYSTEM);
  crashing = true;
  const program = join(scandir, CONTROL_DIR, 'crash');
  try {
    accessSync(program, constants.X_OK);
  } catch {
    process.exit(EXIT_SYSTEM);
  }
  runProgram(program, scandir).then(
    (code) => process.exit(code),
    () => process.exit(EXIT_SYSTEM),
  );
}
