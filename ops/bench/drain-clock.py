#!/usr/bin/env python3
"""Times how fast a queue drains, polling Redis every 5 ms over one plain RESP connection.

Usage: drain-clock.py PORT TOTAL COMMAND... where COMMAND (e.g. LLEN queue:default, or
HGET key field with --done) prints the jobs left (or, with --done, the jobs finished).
The clock starts once 5% of TOTAL are taken (start-up excluded) and stops at zero left.
Prints "jobs seconds" for the timed part."""
import socket, sys, time

def main():
    args = sys.argv[1:]
    done_mode = args[0] == "--done"
    if done_mode:
        args = args[1:]
    port, total, command = int(args[0]), int(args[1]), args[2:]
    sock = socket.create_connection(("127.0.0.1", port))
    reader = sock.makefile("rb")
    request = b"*%d\r\n" % len(command) + b"".join(b"$%d\r\n%s\r\n" % (len(c.encode()), c.encode()) for c in command)

    def left():
        sock.sendall(request)
        line = reader.readline()
        if line[:1] == b":":
            value = int(line[1:])
        elif line[:1] == b"$":
            n = int(line[1:])
            value = 0 if n < 0 else int(reader.read(n + 2)[:-2])
        else:
            raise SystemExit("unexpected reply %r" % line)
        return total - value if done_mode else value

    warm = total - total // 20
    deadline = time.monotonic() + 600
    start = start_left = None
    while time.monotonic() < deadline:
        n = left()
        now = time.monotonic()
        if start is None and n <= warm:
            start, start_left = now, n
        if start is not None and n <= 0:
            print(start_left, now - start)
            return
        time.sleep(0.005)
    raise SystemExit("queue did not drain")

main()
