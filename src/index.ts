// tether's programmatic API.
export * from './wire/tain';
export * from './wire/status';
export * from './wire/deathtally';
export { parseSignal, signalName } from './wire/signals';
// The clients: control, status and waits (issue 3).
export { svc, svwait, watchService } from './client/api';
export type { SvcOptions, SvwaitOptions, ServiceWatcher, ServiceChange, ServiceEventName } from './client/api';
export { svstat } from './client/status';
export type { ServiceStatus } from './client/status';
export type { WaitCondition } from './client/conditions';
export type { SvcCommand } from './client/svc';
// Every error a command or an API call reports carries s6's exit code for it.
export { Failure, Failure as ClientError, EXIT_TIMEOUT, EXIT_USAGE, EXIT_NOT_SUPERVISED, EXIT_BAD_PIDFILE, EXIT_SYSTEM } from './base/exit';
export { overview as serviceOverview } from './client/overview';
export type { ServiceRow, ServiceState } from './client/overview';
// Daemons, pid files and process trees (issue 5).
export { spawnTree } from './daemon/tree';
export type { SpawnTreeOptions, TreeHandle, TreeExit } from './daemon/tree';
export { readPidFile, waitForPidFile, waitForFile, isOwnChild, parsePid, acceptDaemonPid, describePidFileError } from './os/pidfile';
export type { PidFileRead, PidFileOptions, DaemonPid, AcceptOptions } from './os/pidfile';
export { waitHealthy } from './daemon/health';
export type { HealthOptions, HealthResult } from './daemon/health';
