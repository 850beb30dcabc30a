const USAGE = `usage: tether COMMAND [ARGS...]

Getting started:
  add NAME [--dir SCANDIR] [--env K=V]... [--cwd DIR] [--notify] [--log] -- COMMAND...
                            write a service directory (default SCANDIR: ./services)
  status [-w] [--json] [--check] [SCANDIR | DIR | NAME]...
                            one row per service; -w follows events; --check for probes
  tai64nlocal < FILE        log stamps as local times, as s6-tai64nlocal

Supervision (s6-compatible):
  supervise DIR             supervise one service directory
  svscan SCANDIR            supervise every service directory in SCANDIR
  svscanctl -zabhitqnN SCANDIR
  log [-d fd] [-q|-v] [-b] [-p] [-l n] [-t ms] SCRIPT...   s6-log: a logger for log/run
  logs [-f] [-n N] [--since T] [--until T] [--json] [--raw] DIR|SCANDIR...   read and follow logs
  svc [-wu|-wU|-wd|-wD|-wr|-wR] [-T ms] [-abqhkti12pcyrlPCK] [-oduDUxOQ] DIR...
  svstat [-uwNrpgest | -o fields] [-n] [--json] DIR
  svwait [-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] DIR...
  svok DIR
  svlisten [-u|-U|-d|-D|-r|-R] [-a|-o] [-t ms] DIR... -- PROG...
  svdt [-s] DIR / svdt-clear DIR
  web [--listen unix:PATH | --listen 127.0.0.1:PORT] [--read-only] SCANDIR|DIR...
                            JSON API and live status page (unix socket by default)

Daemons that background themselves:
  background-watch [-t ms] [-d fd] PIDFILE PROG...
  pidproxy PIDFILE PROG...
  pidfile claim --pid PID --pid-file F / pidfile kill --pid-file F [--grace 20s] [--show-stacks]
  wait-healthy --url URL [--timeout 1m] [--interval 5s] [--insecure | --cacert FILE]

svc, svstat, svwait, svok and status take a service NAME for SCANDIR/NAME with
--scandir SCANDIR or TETHER_SCANDIR. Run "tether COMMAND --help" for one
command's options and exit codes.
`;

export function main(_argv: string[]): void {
  process.stdout.write(USAGE);
}
