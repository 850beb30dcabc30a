const USAGE = `usage: tether COMMAND [ARGS...]

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
  status [DIR | SCANDIR]... [--json]

Daemons that background themselves:
  background-watch [-t ms] [-d fd] PIDFILE PROG...
  pidproxy PIDFILE PROG...
  pidfile claim --pid PID --pid-file F / pidfile kill --pid-file F [--grace 20s] [--show-stacks]
  wait-healthy --url URL [--timeout 1m] [--interval 5s] [--insecure | --cacert FILE]

Run "tether COMMAND --help" for one command's options.
`;

export function main(_argv: string[]): void {
  process.stdout.write(USAGE);
}
