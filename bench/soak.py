"""Harness: a long run of a real `drainwatch serve` at a steady line rate, good and bad input mixed.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 2000] [--database URL]

A loader POSTs 200-line batches at `--rate` lines/s: text/plain batches of an ordinary day with a
failure line now and then, Heroku logplex batches, gzip JSON, and one request in twenty that is
bad (a truncated gzip body, broken JSON, a wrong content type). Every 5 s the server's RSS, its
open files and its sockets are sampled, summed over its process tree (serve and
its processor process). At the end the spool must drain.
Targets (issue 12): peak RSS <= 200 MiB, RSS growth <= 10 % over the last two thirds of the run
(judged from 10 minutes on; a shorter run is mostly warm-up), open files and connections flat,
no answer >= 500, every accepted line processed or quarantined.
Prints the figures; exits 1 when a target is missed.

`--trace-memory FILE` runs the server under tracemalloc and rewrites FILE every minute with the
25 source lines whose live allocations grew most since the first minute (slower: for finding
what grows, not for the figures).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crash import SOURCE, TOKEN, Server, fresh_database, logplex  # noqa: E402
from bench.proc import rss_mib, tree  # noqa: E402

BATCH = 200
# Started in the server through sitecustomize when --trace-memory is given.
MEMORY_TRACER = """
import ctypes, os, threading, time, tracemalloc
tracemalloc.start(1)
class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
def _malloc():
    try:
        call = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return ""
    call.restype = _Mallinfo2
    info = call()
    return (f" malloc in use {info.uordblks / 2**20:.1f} MiB, free {info.fordblks / 2**20:.1f}"
            f" MiB, mmapped {info.hblkhd / 2**20:.1f} MiB")
def _rss():
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith("Rss"))
    return " ".join(f"{k} {int(v.split()[0]) / 1024:.1f}" for k, v in sorted(fields.items()))
def _trace(path=os.environ["DRAINWATCH_SOAK_TRACE"]):
    time.sleep(60)
    first = tracemalloc.take_snapshot()
    started = time.monotonic()
    while True:
        time.sleep(60)
        now = tracemalloc.take_snapshot()
        top = now.compare_to(first, "lineno")[:25]
        current, peak = tracemalloc.get_traced_memory()
        with open(path + ".history", "a") as history:
            history.write(f"{time.monotonic() - started + 60:.0f} s: traced {current / 2**20:.1f}"
                          f" MiB; {_rss()};{_malloc()}\\n")
        with open(path, "w") as out:
            out.write(f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB\\n")
            out.writelines(f"{stat}\\n" for stat in top)
threading.Thread(target=_trace, daemon=True).start()
"""
DAY = [
    '10.0.0.{n} - - [19/Sep/2025:12:43:15 +0000] "GET /api/items/{n} HTTP/1.1" 200 512',
    "2025-09-19 12:43:15,100 INFO app.worker: job {n} done in 0.{n}s",
    "2025-09-19 12:43:15,200 DEBUG sqlalchemy.engine: SELECT items.id FROM items WHERE id = {n}",
    "2025-09-19 12:43:15,300 WARNING app.cache: cache miss for key item:{n}",
]
FAILURES = [
    "2025-09-19 12:43:16,000 ERROR app: NameError: name 'logger' is not defined",
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only()",
    '2025-09-19T12:43:16+00:00 heroku[router]: at=error code=H12 desc="Request timeout" '
    'method=GET path="/api/items" host=x.herokuapp.com status=503 service=30000ms',
]


@dataclass
class Load:
    """What the loader sent and how it was answered."""

    requests: int = 0
    lines_accepted: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


def lines(rng: random.Random, count: int) -> list[str]:
    """An ordinary stretch of log, one failure line in a hundred."""
    out = []
    for _ in range(count):
        if rng.random() < 0.01:
            out.append(rng.choice(FAILURES))
        else:
            out.append(rng.choice(DAY).format(n=rng.randrange(1000)))
    return out


def request_for(rng: random.Random, number: int) -> tuple[bytes, dict[str, str], int]:
    """Return a body, its headers and the lines it carries (0 for a bad request)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    kind = rng.random()
    batch = lines(rng, BATCH)
    if kind < 0.05:
        bad = rng.choice(
            [
                (gzip.compress("\n".join(batch).encode())[:50], "text/plain", "gzip"),
                (b'{"message": "x", "time": ', "application/json", ""),
                (b"\x00\xff" * 100, "application/x-unknown", ""),
            ]
        )
        headers["Content-Type"] = bad[1]
        if bad[2]:
            headers["Content-Encoding"] = bad[2]
        return bad[0], headers, 0
    if kind < 0.35:
        headers["Content-Type"] = "application/logplex-1"
        headers["Logplex-Frame-Id"] = f"soak-{number}"
        return logplex(batch, number * BATCH), headers, len(batch)
    if kind < 0.55:
        headers["Content-Type"] = "application/json"
        headers["Content-Encoding"] = "gzip"
        body = json.dumps([{"message": line} for line in batch]).encode()
        return gzip.compress(body), headers, len(batch)
    headers["Content-Type"] = "text/plain"
    return "\n".join(batch).encode(), headers, len(batch)


def load(server: Server, stats: Load, stop: threading.Event, rate: float, seed: int) -> None:
    """Send batches at `rate` lines/s until `stop`."""
    rng = random.Random(seed)
    interval = BATCH / rate
    next_at = time.monotonic()
    number = 0
    while not stop.is_set():
        body, headers, count = request_for(rng, number)
        number += 1
        request = urllib.request.Request(
            f"{server.base}/drains/{SOURCE}", data=body, headers=headers
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
                answer = json.load(response)
                stats.lines_accepted += int(answer.get("accepted", 0))
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        stats.latencies.append(time.monotonic() - started)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        stats.requests += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def sample(root: int) -> tuple[float, int, int]:
    """Return the RSS in MiB, open files and open sockets of the server's process tree (serve
    and its processor process)."""
    pids = tree(root)
    files = sockets = 0
    for pid in pids:
        try:
            entries = list(os.scandir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        for entry in entries:
            files += 1
            try:
                sockets += os.readlink(entry.path).startswith("socket:")
            except OSError:
                pass
    return rss_mib(pids), files, sockets


def main() -> int:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", help="a database URL (default: SQLite in a temp dir)")
    parser.add_argument("--trace-memory", type=Path, help="write tracemalloc growth here")
    parser.add_argument("--samples", type=Path, help="write every 5 s sample here (CSV)")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="drainwatch-soak-") as name:
        directory = Path(name)
        with fresh_database(args.database, directory) as database:
            server = Server(directory, database)
            if args.trace_memory:
                (directory / "trace").mkdir()
                (directory / "trace" / "sitecustomize.py").write_text(MEMORY_TRACER)
                server.env["PYTHONPATH"] = str(directory / "trace")
                server.env["DRAINWATCH_SOAK_TRACE"] = str(args.trace_memory.resolve())
            server.start()
            assert server.process is not None
            stats = Load()
            stop = threading.Event()
            loader = threading.Thread(target=load, args=(server, stats, stop, args.rate, args.seed))
            started = time.monotonic()
            loader.start()
            samples: list[tuple[float, float, int, int]] = []
            try:
                while time.monotonic() - started < seconds:
                    samples.append((time.monotonic() - started, *sample(server.process.pid)))
                    time.sleep(5)
            finally:
                stop.set()
                loader.join(60)
            drain_started = time.monotonic()
            view: dict[str, int] = {}
            while time.monotonic() - drain_started < 300:
                view = server.get(f"/api/sources/{SOURCE}")
                done = view["lines_processed"] + view["lines_quarantined"]
                if (
                    done >= view["lines_received"]
                    and view["lines_received"] >= stats.lines_accepted
                ):
                    break
                time.sleep(1)
            drain = time.monotonic() - drain_started
            samples.append((time.monotonic() - started, *sample(server.process.pid)))
            server.stop()
    if args.samples:
        args.samples.write_text(
            "seconds,rss_mib,open_files,sockets\n"
            + "".join(f"{t:.0f},{rss:.1f},{f},{s}\n" for t, rss, f, s in samples)
        )
    peak = max(rss for _, rss, _, _ in samples)
    third = [s for s in samples if s[0] >= seconds / 3]
    growth = (third[-1][1] - third[0][1]) / third[0][1] * 100 if len(third) > 1 else 0.0
    files = [f for _, _, f, _ in samples]
    sockets = [s for _, _, _, s in samples]
    errors = sum(count for status, count in stats.statuses.items() if status >= 500 or status == 0)
    latencies = sorted(stats.latencies)
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    rate = stats.lines_accepted / seconds
    print(f"run                           {args.minutes:g} min at {args.rate:g} lines/s asked")
    print(
        f"requests                      {stats.requests}: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items()))
    )
    print(f"lines accepted                {stats.lines_accepted} ({rate:.0f}/s)")
    print(
        f"202 latency p50 / p99         {latencies[len(latencies) // 2] * 1000:.0f} ms / "
        f"{p99 * 1000:.0f} ms"
        if latencies
        else "no requests"
    )
    print(
        f"lines processed / quarantined {view.get('lines_processed')} / "
        f"{view.get('lines_quarantined')} (drained {drain:.0f} s after the load stopped)"
    )
    print(f"RSS peak                      {peak:.1f} MiB")
    print(
        f"RSS growth, last 2/3 of run   {growth:+.1f} %"
        + ("" if args.minutes >= 10 else " (not judged under 10 minutes: warm-up)")
    )
    print(f"open files first/max/last     {files[0]}/{max(files)}/{files[-1]}")
    print(f"sockets first/max/last        {sockets[0]}/{max(sockets)}/{sockets[-1]}")
    print(f"answers >= 500 or none        {errors}")
    processed = view.get("lines_processed", 0) + view.get("lines_quarantined", 0)
    # Growth is judged on long runs only: the first minutes of a process are its warm-up.
    judged = args.minutes >= 10
    ok = (
        peak <= 200
        and (growth <= 10 or not judged)
        and errors == 0
        and processed >= stats.lines_accepted
        and files[-1] <= files[0] + 10
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
