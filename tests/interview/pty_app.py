"""Run the interview as a user starts it (`python -m interview FILE` in a pseudo-terminal),
for the kill-and-resume test and the start-up benchmark."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def interview_in_pty(
    path: Path, rows: int = 24, cols: int = 80, **env: str
) -> Iterator[tuple[int, int]]:
    """Yield (pid, terminal fd) of a running interview on `path`; SIGKILL it on exit.

    The terminal output is drained in a thread so the app never blocks writing to it.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: the interview, as a user starts it
        os.chdir(ROOT)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "interview", str(path)],
            dict(os.environ, TERM="xterm-256color", **env),
        )
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                if not os.read(fd, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    try:
        yield pid, fd
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        stop.set()
        os.close(fd)
