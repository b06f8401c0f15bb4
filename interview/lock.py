"""One interview writes an assessment at a time: an advisory lock beside the file.

The lock is `flock` on `.FILE.lock` next to the assessment, not on the assessment itself:
every save renames a new file over the assessment, so a lock on its inode would be left on
the replaced file and guard nothing. The lock file is never renamed over. It holds who has
the lock (pid, host, start time) so that a second interview can say so.

The kernel releases a flock when its holder dies, however it dies, so a killed interview
never blocks the next one; the lock file it leaves is simply locked again. A holder that
closes cleanly removes the file while still holding the lock; an opener that locked a file
that was removed meanwhile sees that the path no longer names it and tries again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

MAX_INFO_BYTES = 4096


def lock_path(assessment_path: Path) -> Path:
    return assessment_path.with_name(f".{assessment_path.name}.lock")


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as it wrote into the lock file (unknown fields are empty)."""

    pid: int | None = None
    host: str = ""
    started: str = ""

    def describe(self) -> str:
        if self.pid is None:
            return "another interview"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        since = f", open since {self.started}" if self.started else ""
        return f"another interview (process {self.pid}{where}{since})"


class Lock:
    """A held lock; release() (or garbage collection, or the process's end) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)

    @property
    def held(self) -> bool:
        return self._finalizer.alive

    def release(self) -> None:
        if not self._finalizer.alive:
            return
        with contextlib.suppress(OSError):  # remove it only while it is still ours
            if _same_file(os.fstat(self._fd), self.path):
                os.unlink(self.path)
        self._finalizer()


def _same_file(st: os.stat_result, path: Path) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


class LockFileError(OSError):
    """The lock file exists but is not a regular file (or is a link): not ours to use."""


def acquire(assessment_path: Path) -> Lock | Holder:
    """Take the lock for assessment_path without waiting: the Lock, or who holds it.

    OSError if the lock file cannot be created (e.g. a read-only folder) or is not a regular
    file (LockFileError).
    """
    path = lock_path(Path(assessment_path))
    for _attempt in range(20):
        # O_NOFOLLOW: a planted symlink must not make us truncate another file;
        # O_NONBLOCK: a FIFO in its place must not hang the open.
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LockFileError(f"{path} is a symbolic link") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise LockFileError(f"{path} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _holder(fd)
            if not _same_file(st, path):  # its holder removed it as we opened it
                continue
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            lock = Lock(path, fd)
            fd = -1  # the Lock owns it now
            return lock
        finally:
            if fd >= 0:
                os.close(fd)
    raise OSError(f"{path} keeps being replaced; cannot take the lock")


def _holder(fd: int) -> Holder:
    try:
        data = json.loads(os.pread(fd, MAX_INFO_BYTES, 0) or b"{}")
    except (OSError, ValueError):
        return Holder()
    if not isinstance(data, dict):
        return Holder()
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        _printable(data.get("host")),
        _printable(data.get("started")),
    )


def _printable(value: object) -> str:
    """Text from the lock file as it may be shown: anyone can write that file."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:64]
