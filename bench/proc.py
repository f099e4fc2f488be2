"""A server's process tree as /proc shows it: resident memory and CPU time, sampled from outside.

The tree is the process and every descendant, so a server that forks workers or a separate
processor is measured whole. Linux only.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after `(comm)`: state is [0], ppid [1], utime [11]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """Return `root` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mib(pids: list[int]) -> float:
    """Return the summed resident set size of `pids`, in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(root: int) -> float:
    """Return the user + system CPU seconds of the tree: the live processes and reaped children."""
    total = 0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is None:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == root:  # children it has waited for are counted in its cutime and cstime
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


class MemorySampler:
    """Sample the tree's RSS every `interval` seconds in a thread; keep the peak since `reset`."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root = root
        self.interval = interval
        self.peak = 0.0
        self.last = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> float:
        """Take one sample now and return it."""
        value = rss_mib(tree(self.root))
        with self._lock:
            self.last = value
            self.peak = max(self.peak, value)
        return value

    def reset(self) -> None:
        """Start a new peak from the current RSS."""
        with self._lock:
            self.peak = 0.0
        self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
