"""The C allocator tuned for a long run (`service/memory.py`): a big transient buffer is given back."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from service.memory import Trimmer, _glibc

needs_glibc = pytest.mark.skipif(_glibc() is None, reason="not glibc: malloc tuning is a no-op")

# Two logins' worth of scrypt (16 MiB each), then the resident size in KiB, in a fresh process.
SCRYPT_TWICE = """
import hashlib, sys
from service.memory import tune_malloc
if sys.argv[1] == "tuned":
    assert tune_malloc(2)
for _ in range(2):
    hashlib.scrypt(b"password", salt=b"salt", n=2**14, r=8, p=1, dklen=32)
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")))
"""


def rss_after_two_logins(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", SCRYPT_TWICE, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


@needs_glibc
def test_a_second_16_mib_buffer_is_not_kept_in_the_heap() -> None:
    untuned, tuned = rss_after_two_logins("default"), rss_after_two_logins("tuned")
    # glibc's defaults keep the second buffer (the first raised the mmap threshold to its size).
    assert untuned - tuned > 12 * 1024, (untuned, tuned)


def test_a_trimmer_with_no_interval_starts_no_thread() -> None:
    before = threading.active_count()
    Trimmer(0).start()
    assert threading.active_count() == before


@needs_glibc
def test_a_trimmer_runs_until_stopped() -> None:
    trimmer = Trimmer(0.01)
    trimmer.start()
    assert any(thread.name == "drainwatch-trim" for thread in threading.enumerate())
    trimmer.stop()
    trimmer._thread.join(1)
    assert not trimmer._thread.is_alive()
