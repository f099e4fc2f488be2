"""The lock every process takes around a write to the spool file.

SQLite serialises writers itself, but a writer that finds the file locked by another process
sleeps and polls (steps of up to 100 ms), which put hundreds of milliseconds on intake's p99
once the processor acknowledged from a process of its own. `flock` queues the waiters in the
kernel and wakes the next one the moment the holder lets go.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class FileLock:
    """An exclusive lock between processes and between the threads of this one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        # flock is held per open file: two threads of one process would both get it.
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _trace: TracebackType | None,
    ) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        """Close the lock file."""
        os.close(self._fd)


def write_lock(spool_path: Path) -> FileLock:
    """Return the write lock of the spool file at `spool_path`."""
    return FileLock(spool_path.with_name(spool_path.name + ".write-lock"))
