// Real daemons for the daemon tools' tests: small sh scripts that trap
// signals, record them in a log, and background themselves in the usual ways.
import { existsSync, readFileSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { BOUND_MS, bounded, writeScript } from '../lib/harness';

export interface Daemons {
  /**
   * daemon.sh PIDFILE LOG MODE [EXIT]: the long-running daemon (MODE self|late|none).
   * It logs "started PID" and "SIGNAME PID" for TERM (then exits EXIT, 3 by default),
   * HUP, USR1 and QUIT; on USR2 it starts a new daemon that re-writes PIDFILE and exits 4.
   */
  daemon: string;
  /** parent.sh PIDFILE LOG: forks the daemon, writes its pid, exits 0 (s6's contract). */
  parent: string;
  /** double-fork.sh PIDFILE LOG: fork, setsid, fork; the daemon writes its own pid file. */
  doubleFork: string;
  /** late.sh PIDFILE LOG: exits 0 at once; the daemon writes the pid file after that. */
  late: string;
}

export function writeDaemons(dir: string): Daemons {
  const d: Daemons = {
    daemon: join(dir, 'daemon.sh'),
    parent: join(dir, 'parent.sh'),
    doubleFork: join(dir, 'double-fork.sh'),
    late: join(dir, 'late.sh'),
  };
  writeScript(d.daemon, `
pidfile=$1 log=$2 mode=$3 code=\${4:-3}
trap 'echo TERM $$ >> "$log"; kill -KILL $s 2>/dev/null; exit $code' TERM
trap 'echo HUP $$ >> "$log"' HUP
trap 'echo USR1 $$ >> "$log"' USR1
trap 'echo QUIT $$ >> "$log"' QUIT
# nginx's binary upgrade: a new daemon, our child, takes over the pid file.
trap '"$0" "$pidfile" "$log" self 4 </dev/null >/dev/null 2>&1 &' USR2
sleep 1000 & s=$!
# An orphan: re-parented to the nearest subreaper, which must reap it.
( sh -c 'echo orphan >> "$0"' "$log" & )
case $mode in
  self) echo $$ > "$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile" ;;
  late) read _ignored; sleep 0.3; echo $$ > "$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile" ;;
esac
echo started $$ >> "$log"
while kill -0 $s 2>/dev/null; do wait $s; done
`);
  writeScript(d.parent, `
"${d.daemon}" "$1" "$2" none </dev/null >/dev/null 2>&1 &
echo $! > "$1"
exit 0
`);
  writeScript(d.doubleFork, `
setsid sh -c '"$0" "$1" "$2" self </dev/null >/dev/null 2>&1 &' "${d.daemon}" "$1" "$2"
exit 0
`);
  // The daemon reads its stdin, a FIFO that only this script holds open for
  // writing: it sees EOF when this script has exited, and writes after that.
  writeScript(d.late, `
rm -f "$1.fifo"; mkfifo "$1.fifo"
"${d.daemon}" "$1" "$2" late <"$1.fifo" >/dev/null 2>&1 &
exec 5>"$1.fifo"
rm -f "$1.fifo"
exit 0
`);
  return d;
}

/** Resolves once the file at `path` has a line matching `re` (fs.watch, bounded). */
export function waitForLine(path: string, re: RegExp, ms = BOUND_MS): Promise<string> {
  const check = (): string | undefined => {
    if (!existsSync(path)) return undefined;
    return readFileSync(path, 'utf8').split('\n').find((l) => re.test(l));
  };
  const now = check();
  if (now !== undefined) return Promise.resolve(now);
  let w: ReturnType<typeof watch> | undefined;
  return bounded(new Promise<string>((res) => {
    w = watch(dirname(path), () => {
      const hit = check();
      if (hit !== undefined) res(hit);
    });
    const hit = check();
    if (hit !== undefined) res(hit);
  }), ms, `a line matching ${re} in ${path}`).finally(() => w?.close());
}

export function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Kills a pid we did not spawn (a daemon) at teardown, if it still runs. */
export function killPidAtTeardown(t: { teardown(fn: () => unknown): void }, pid: number): void {
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
}
