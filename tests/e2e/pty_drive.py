#!/usr/bin/env python3
"""Drive a command on a pseudo-terminal, as a person at a terminal would.

usage: pty_drive.py SCRIPT -- CMD...
SCRIPT lines: "send TEXT" (\\n, \\x03 escapes), "expect REGEX" (within
10 s), "resize ROWS COLS" (TIOCSWINSZ and SIGWINCH), "sleep S".  Prints
what the command wrote; exits with the command's status, or 99 when an
expect timed out (naming it on stderr).
"""
import fcntl, os, pty, re, select, signal, struct, sys, termios, time

def main():
    i = sys.argv.index("--")
    script = open(sys.argv[1]).read().splitlines()
    cmd = sys.argv[i + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""

    def pump(timeout):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            d = os.read(fd, 4096)
        except OSError:
            return False
        if not d:
            return False
        seen += d
        sys.stdout.buffer.write(d)
        sys.stdout.flush()
        return True

    for line in script:
        if not line.strip():
            continue
        op, _, arg = line.partition(" ")
        if op == "send":
            os.write(fd, arg.encode().decode("unicode_escape").encode("latin-1"))
        elif op == "expect":
            end = time.time() + 10
            rx = re.compile(arg.encode())
            while True:
                m = rx.search(seen)
                if m:
                    seen = seen[m.end():]
                    break
                if time.time() > end or not pump(0.2):
                    if rx.search(seen):
                        continue
                    sys.stderr.write("timed out waiting for %r\n" % arg)
                    os.kill(pid, signal.SIGKILL)
                    sys.exit(99)
        elif op == "resize":
            rows, cols = arg.split()
            fcntl.ioctl(fd, termios.TIOCSWINSZ,
                        struct.pack("HHHH", int(rows), int(cols), 0, 0))
            os.kill(pid, signal.SIGWINCH)
        elif op == "sleep":
            time.sleep(float(arg))
    end = time.time() + 15
    while time.time() < end and pump(0.2):
        pass
    _, st = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 98)

main()
