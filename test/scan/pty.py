# Runs a command on a new pseudo-terminal, as a terminal emulator would: the
# command is the session leader and the terminal is its controlling one.
# Prints "pid N" once started; reads the terminal's output (a terminal
# nobody reads would block writers) and prints each line of it as
# "tty: LINE"; on a line "close" on
# stdin it closes the master side (the window is closed); on a line "hup" it
# sends SIGHUP to the command with the terminal still alive; on "stop" it
# stops reading the terminal, as a terminal stopped by Ctrl-S or a stalled
# ssh connection does (writers block once its buffer is full), and on "go"
# it reads again. Prints
# "exit CODE" or "signal SIG" when the command ends.
import fcntl, os, select, signal, sys, termios

master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(master)
    os.close(slave)
    os.execvp(sys.argv[1], sys.argv[1:])
os.close(slave)
print(f"pid {pid}", flush=True)
stdin = sys.stdin.fileno()
partial = b""
reading = True
ended = os.pidfd_open(pid)  # readable once the command has exited: no polling
while True:
    fds = ([stdin] if stdin >= 0 else []) + [ended] + ([master] if master is not None and reading else [])
    ready, _, _ = select.select(fds, [], [])
    if master is not None and master in ready:
        try:
            partial += os.read(master, 65536)
            *lines, partial = partial.split(b"\n")
            for line in lines:
                print("tty: " + line.rstrip(b"\r").decode("utf-8", "replace"), flush=True)
        except OSError:
            os.close(master)
            master = None
    if stdin in ready:
        raw = sys.stdin.readline()
        line = raw.strip()
        if line == "close" and master is not None:
            os.close(master)
            master = None
        elif line == "hup":
            os.kill(pid, signal.SIGHUP)
        elif line in ("stop", "go"):
            reading = line == "go"
        elif raw == "":
            stdin = -1
    if ended in ready:
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            print(f"signal {os.WTERMSIG(status)}", flush=True)
        else:
            print(f"exit {os.WEXITSTATUS(status)}", flush=True)
        break
