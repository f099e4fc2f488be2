"""The C allocator's share of a long-running `serve`: fewer malloc arenas, big blocks never kept
in the heap, free pages handed back.

Python's own live objects stay flat under a steady load (tracemalloc in the soak: 75-77 MiB
for minutes), yet the resident size crept up, in steps: glibc's malloc kept what was freed.
Two causes, measured: a block over its mmap threshold is mapped and given back on free, but
freeing one raises the threshold to its size, so the next one of that size (a login's 16 MiB
scrypt buffer, a large body) stays in the heap for good (+16 MiB after the second Basic-auth
request); and every thread that ever contended got an arena of its own (up to 8 per core:
the event loop, the worker threads, the processor, the spool's committer), each keeping its
free pages. A fixed threshold, two arenas and a `malloc_trim` now and then give them back.
Elsewhere than glibc (musl, macOS) all of it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import cache
from typing import Any

# mallopt's parameter numbers (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# Blocks from this size on are mapped on their own and unmapped when freed, never kept.
MMAP_THRESHOLD_BYTES = 1024 * 1024


@cache
def _glibc() -> Any | None:
    """Return glibc, or None when this process's C library is another one."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc(arenas: int) -> bool:
    """Let malloc use at most `arenas` arenas and map big blocks on their own; True if set.

    0 leaves malloc's defaults alone. Called before the process starts its threads, so every
    thread shares those arenas.
    """
    libc = _glibc()
    if libc is None or arenas <= 0:
        return False
    fixed = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    return bool(libc.mallopt(M_ARENA_MAX, arenas)) and bool(fixed)


def trim() -> bool:
    """Hand the free pages of every malloc arena back to the system; True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


class Trimmer:
    """A daemon thread that calls `trim` every `interval` seconds until stopped."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drainwatch-trim", daemon=True)

    def start(self) -> None:
        """Start trimming (nothing when the interval is 0 or there is no glibc)."""
        if self.interval > 0 and _glibc() is not None:
            self._thread.start()

    def stop(self) -> None:
        """Stop at the next wake-up."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            trim()
