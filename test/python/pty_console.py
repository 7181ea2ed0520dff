#!/usr/bin/env python3
"""Drives `vtctl vm console` in a pseudo-terminal, as an operator at a terminal would (decision record 027 tests).

Usage: pty_console.py MARKER_COMMAND EXPECTED TIMEOUT_SECONDS -- ARGV...

Starts ARGV with a new pty as its stdin, stdout and stderr (its controlling terminal), waits for the
"Escape character is ^]" line, reads the terminal's modes (raw: no ICANON, no ECHO), types MARKER_COMMAND and a
carriage return, waits until EXPECTED appears in the output, types Ctrl-] and waits for the exit. Prints one JSON
object: exitCode, sawExpected, rawDuringSession, restoredAfter (the modes after exit equal those before start),
output (the last 2000 characters). The child is killed by PID if anything takes longer than TIMEOUT_SECONDS.
"""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time


def main() -> int:
    sep = sys.argv.index('--')
    command, expected, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    argv = sys.argv[sep + 1:]
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=lambda: __import__('fcntl').ioctl(0, termios.TIOCSCTTY, 0))
    deadline = time.monotonic() + timeout
    out = b''

    def read_until(pattern: bytes) -> bool:
        nonlocal out
        while time.monotonic() < deadline:
            if pattern in out:
                return True
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return pattern in out
                if not data:
                    return pattern in out
                out += data
            elif child.poll() is not None and not ready:
                return pattern in out
        return pattern in out

    result = {'exitCode': None, 'sawExpected': False, 'rawDuringSession': False, 'restoredAfter': False}
    try:
        if read_until(b'Escape character is ^]'):
            time.sleep(0.3)
            during = termios.tcgetattr(slave)
            lflag = during[3]
            result['rawDuringSession'] = not (lflag & termios.ICANON) and not (lflag & termios.ECHO)
            os.write(master, command.encode() + b'\r')
            result['sawExpected'] = read_until(expected.encode())
        os.write(master, b'\x1d')
        while child.poll() is None and time.monotonic() < deadline:
            read_until(b'\x00never\x00')
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        result['exitCode'] = child.wait()
        # Drain what is left to read.
        while True:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        result['restoredAfter'] = termios.tcgetattr(slave) == before
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)
        os.close(slave)
    result['output'] = out.decode('utf-8', 'replace')[-2000:]
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
