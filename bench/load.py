"""Load benchmark: wrk against a no-op ceiling, then against `drainwatch serve`, in one run.

    make bench-load                      # 60 s loads, SQLite, the drainwatch load twice
    .venv/bin/python bench/load.py [--seconds 60] [--repeat 1] [--database URL] [--workers N]
                                   [--processor thread|process]
                                   [--bodies mixed|text|logplex] [--env NAME=VALUE ...]

Needs wrk (`apt-get install -y wrk`); without it, says so and exits 2.

1. The ceiling: a FastAPI app on drainwatch's own uvicorn stack (`bench/noop.py`) whose one POST
   endpoint reads the body and answers 202. wrk drives it for `--seconds` with 8 connections (2
   threads) posting 100-line bodies.
2. `drainwatch serve` with its default settings (rate limits included) on a temporary SQLite
   database (or a fresh schema of `--database`), driven the same way with the same bodies: text
   and Heroku logplex (`Logplex-Msg-Count`, a fresh `Logplex-Frame-Id` each) from four sources and
   several instances, a generated mix with ~0.5 % failure lines (multi-line tracebacks among them),
   access lines and deploy markers. The bodies are made up front and `bench/load.lua` rotates
   through them, so consecutive requests differ. Mid-load, a MissingGreenlet traceback is posted
   from a source of its own, followed by the request's access line (so the assembler can close
   the traceback without waiting for its gap).

The figures:
- accepted lines/s: 202 answers x lines per body / wrk's duration.
- processed lines/s: lines processed (or quarantined) since the load began / seconds from the
  load's start until every line received is processed (`/api/sources`, polled every 0.2 s).
- lag: seconds from the end of the load until then. An ERROR line last of its instance is held
  back for up to DRAINWATCH_TRACEBACK_GAP_SECONDS (5 s), which the lag includes.
- ack p50/p99: wrk's latency distribution (request sent to answer, any status).
- answers: every status wrk saw; 429 and 503 at the default settings are refusals.
- RSS: resident memory of the server's process tree, sampled every 0.25 s (peak), and after the
  load was processed ("after"). Flat: the last load's "after" within 10 % of the first's.
- CPU per 100k lines: user + system seconds of the server's tree from the load's start until
  caught up, per 100,000 lines processed (the ceiling: per 100,000 lines accepted). On
  PostgreSQL the database server's own CPU and memory are not included.
- time to dashboard: from posting the probe until `/api/incidents` lists its incident.
- "x ceiling": a throughput divided by the ceiling's accepted lines/s of the same run.

The targets of issue 11 are printed as met / NOT met, judged on the worst of the repeated loads.
Exit status: 0 whether or not targets are met; 1 when the run itself broke (a server did not start,
wrk failed, an HTTP call failed); 2 for a missing wrk or an option this code does not support.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.corpus import generate  # noqa: E402
from bench.crash import TOKEN, Server, free_port, fresh_database, logplex  # noqa: E402
from bench.loadreport import Figures, print_figures, print_machine, print_targets  # noqa: E402
from bench.proc import MemorySampler, cpu_seconds  # noqa: E402
from service.signatures.loader import load_signatures  # noqa: E402

POLL_SECONDS = 0.2
PROBE_SIGNATURE = "sqlalchemy.missing-greenlet"
PROBE = """\
2025-10-09 07:41:00,000 - app.api.leads - ERROR - Exception in ASGI application
Traceback (most recent call last):
  File "/app/app/api/leads.py", line 42, in list_leads
    rows = await session.execute(query)
  File "/app/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet(
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here. \
Was IO attempted in an unexpected place? (Background on this error at: https://sqlalche.me/e/20/xd2s)
INFO:     10.0.0.7:51234 - "GET /api/v1/leads?page=2 HTTP/1.1" 500 Internal Server Error
"""  # noqa: E501 - log lines are as long as they are


@dataclass(frozen=True, slots=True)
class Feed:
    """A source of the load: its name, whether it sends logplex, and its instances (dynos)."""

    name: str
    logplex: bool
    dynos: tuple[str, ...] = ("web.1",)


def feeds(kind: str) -> list[Feed]:
    """Two Heroku apps draining logplex and two senders posting text, or all four of one kind."""
    shapes = [
        ("heroku-api", True, ("web.1", "web.2", "web.3")),
        ("heroku-worker", True, ("worker.1", "worker.2")),
        ("render-web", False, ("web.1",)),
        ("vector-jobs", False, ("web.1",)),
    ]
    return [
        Feed(name, logplex=(kind == "logplex" or (kind == "mixed" and is_logplex)), dynos=dynos)
        for name, is_logplex, dynos in shapes
    ]


def make_bodies(kind: str, count: int, lines: int, seed: int) -> list[wrk.Body]:
    """Return `count` bodies of `lines` non-blank corpus lines, the feeds taken in turn."""
    rules = load_signatures([ROOT / "patterns"]).signatures
    failures = [case.example.text for rule in rules for case in rule.cases if case.example.matches]
    misses = [
        case.example.text for rule in rules for case in rule.cases if not case.example.matches
    ]
    sources = feeds(kind)
    per_feed = -(-count // len(sources))
    chunks: list[list[list[str]]] = []
    for index in range(len(sources)):
        # Each feed its own corpus, so a traceback split between two bodies stays in one source.
        text = generate(
            per_feed * lines * 101 // 100 + 100,  # a few blank lines are dropped
            failures=failures,
            near_misses=misses,
            seed=seed + index,
        )
        kept = [line for line in text.split("\n") if line.strip()]
        if len(kept) < per_feed * lines:
            raise RuntimeError(f"the corpus gave {len(kept):,} lines, {per_feed * lines:,} needed")
        chunks.append([kept[i * lines : (i + 1) * lines] for i in range(per_feed)])
    return [
        body(
            sources[n % len(sources)],
            chunks[n % len(sources)][n // len(sources)],
            n // len(sources),
        )
        for n in range(count)
    ]


def body(feed: Feed, chunk: list[str], number: int) -> wrk.Body:
    """The feed's `number`th body: its text, or logplex frames from its dynos in turn."""
    path = f"/drains/{feed.name}"
    if not feed.logplex:
        data = ("\n".join(chunk) + "\n").encode()
        return wrk.Body(path, "text/plain; charset=utf-8", data, len(chunk))
    dyno = feed.dynos[number % len(feed.dynos)]
    data = logplex(chunk, number * len(chunk), dyno=dyno)
    return wrk.Body(path, "application/logplex-1", data, len(chunk), logplex=True)


# ---------------------------------------------------------------------------------------------
# The servers.


@contextmanager
def ceiling_server(directory: Path, workers: int) -> Iterator[tuple[str, int]]:
    """Run `bench/noop.py`; yield its base URL and pid."""
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "noop.py"), "--port", str(port)]
    with (directory / "noop.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own script
            [*command, "--workers", str(workers)], cwd=directory, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/drains/up", process, directory / "noop.log")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(20)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """POST to `url` until it answers 202; raise if the process exits or 60 s pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, data=b"up", timeout=2):  # noqa: S310 - http
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in 60 s")


def drainwatch_server(directory: Path, database: str, args: argparse.Namespace) -> Server:
    """A `drainwatch serve` on `database` with the default settings but for `--env`."""
    extra = ["--workers", str(args.workers)] if args.workers else []
    if args.processor:
        extra += ["--processor", args.processor]
    server = Server(directory, database, args=extra)
    # The defaults are what is measured: nothing from the caller's environment or a .env.
    mine = {"DRAINWATCH_DATABASE_URL", "DRAINWATCH_SPOOL_DIR", "DRAINWATCH_INGEST_TOKEN"}
    mine |= {"DRAINWATCH_ADMIN_USER", "DRAINWATCH_ADMIN_PASSWORD"}
    server.env = {
        k: v for k, v in server.env.items() if not k.startswith("DRAINWATCH_") or k in mine
    }
    server.env.update(args.env)
    return server


def serve_supports(option: str) -> bool:
    """Whether `drainwatch serve --help` lists `option`."""
    done = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return option in done.stdout


# ---------------------------------------------------------------------------------------------
# Measuring.


@dataclass
class Counters:
    """The load's sources summed, as `/api/sources` gives them."""

    received: int = 0
    processed: int = 0
    quarantined: int = 0

    def minus(self, other: Counters) -> Counters:
        return Counters(
            self.received - other.received,
            self.processed - other.processed,
            self.quarantined - other.quarantined,
        )


def counters(server: Server, names: set[str]) -> Counters:
    """Sum the counters of the sources in `names`."""
    total = Counters()
    for row in server.get("/api/sources")["sources"]:
        if row["name"] in names:
            total.received += row["lines_received"]
            total.processed += row["lines_processed"]
            total.quarantined += row.get("lines_quarantined", 0)
    return total


@dataclass
class CatchUp:
    """When the processor had done every line of a load, or how far it got by the deadline."""

    at: float
    done: Counters
    caught_up: bool


def catch_up(
    server: Server, names: set[str], before: Counters, accepted: int, limit: float
) -> CatchUp:
    """Poll until every received line of the load is processed, or `limit` seconds have passed."""
    started = time.perf_counter()
    deadline, next_note = started + limit, started + 15
    while True:
        now = time.perf_counter()
        try:
            delta = counters(server, names).minus(before)
        except OSError as error:  # a poll timed out under load: the next one may not
            if now >= deadline:
                raise RuntimeError(f"/api/sources did not answer: {error}") from error
            print(f"  ... /api/sources: {error}", file=sys.stderr)
            time.sleep(POLL_SECONDS)
            continue
        finished = delta.processed + delta.quarantined
        if delta.received >= accepted and finished >= delta.received:
            return CatchUp(now, delta, caught_up=True)
        if now >= deadline:
            return CatchUp(now, delta, caught_up=False)
        if now >= next_note:
            print(
                f"  ... {finished:,} of {delta.received:,} lines processed, "
                f"{now - started:.0f} s after the load",
                file=sys.stderr,
            )
            next_note = now + 15
        time.sleep(POLL_SECONDS)


class Probe:
    """Post one distinctive failure from a source of its own `at` seconds from `start`, then poll
    `/api/incidents` until it is listed; `seconds` is the delay, None if never seen."""

    def __init__(self, server: Server, at: float) -> None:
        self.server, self.at = server, at
        self.source = f"probe-{uuid.uuid4().hex[:8]}"
        self.seconds: float | None = None
        self.note = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def finish(self, grace: float) -> None:
        """Give the probe `grace` more seconds, then stop polling."""
        self._thread.join(grace)
        self._stop.set()
        self._thread.join(5)
        if self.seconds is None and not self.note:
            self.note = "not on the dashboard by the end"

    def _run(self) -> None:
        if self._stop.wait(self.at):
            return
        request = urllib.request.Request(  # noqa: S310 - http to our own server
            f"{self.server.base}/drains/{self.source}",
            data=PROBE.encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
        )
        sent = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                pass
        except OSError as error:
            self.note = f"the probe was not accepted: {error}"
            return
        while not self._stop.is_set():
            try:
                found = self.server.get(f"/api/incidents?source={self.source}")["incidents"]
            except OSError:
                found = []
            if any(incident["signature"] == PROBE_SIGNATURE for incident in found):
                self.seconds = time.perf_counter() - sent
                return
            self._stop.wait(0.05)


def drive(base: str, files: tuple[Path, Path], args: argparse.Namespace, name: str) -> wrk.Result:
    """Run wrk against `base` with the run's bodies and settings."""
    return wrk.run(
        args.wrk,
        base,
        files,
        token=TOKEN,
        run_id=f"{name}-{uuid.uuid4().hex[:8]}",
        seconds=args.seconds,
        connections=args.connections,
        threads=args.threads,
    )


def measure_ceiling(directory: Path, files: tuple[Path, Path], args: argparse.Namespace) -> Figures:
    """Drive the no-op app and return its figures."""
    with ceiling_server(directory, args.workers or 1) as (base, pid):
        memory = MemorySampler(pid).start()
        cpu = cpu_seconds(pid)
        result = drive(base, files, args, "ceiling")
        cpu = cpu_seconds(pid) - cpu
        memory.stop()
    return Figures(
        "ceiling",
        result,
        args.lines,
        args.connections,
        cpu=cpu,
        peak_rss=memory.peak,
        rss_after=memory.last,
    )


def measure_drainwatch(
    server: Server, files: tuple[Path, Path], args: argparse.Namespace, number: int
) -> Figures:
    """Drive `drainwatch serve` once; wait for the processor; return the load's figures."""
    assert server.process is not None
    pid, names = server.process.pid, {feed.name for feed in feeds(args.bodies)}
    before = counters(server, names)
    memory = MemorySampler(pid).start()
    cpu = cpu_seconds(pid)
    probe = Probe(server, at=args.seconds / 2).start()
    result = drive(server.base, files, args, f"drainwatch{number}")
    ended = time.perf_counter()
    began = ended - result.seconds  # wrk's own clock: its set-up is not load
    accepted = result.count(202) * args.lines
    caught = catch_up(server, names, before, accepted, args.catch_up)
    cpu = cpu_seconds(pid) - cpu
    probe.finish(grace=5)
    memory.sample()
    memory.stop()
    return Figures(
        f"drainwatch #{number}" if args.repeat > 1 else "drainwatch",
        result,
        args.lines,
        args.connections,
        cpu=cpu,
        peak_rss=memory.peak,
        rss_after=memory.last,
        received=caught.done.received,
        processed=caught.done.processed + caught.done.quarantined,
        processed_seconds=caught.at - began,
        lag=caught.at - ended,
        caught_up=caught.caught_up,
        probe_seconds=probe.seconds,
        probe_note=probe.note,
        incidents=len(server.get("/api/incidents?limit=5000")["incidents"]),
    )


# ---------------------------------------------------------------------------------------------


def parse_env(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name.startswith("DRAINWATCH_"):
        raise argparse.ArgumentTypeError(f"expected DRAINWATCH_NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--seconds", type=float, default=60.0, help="length of each load (60)")
    add("--repeat", type=int, default=1, help="drainwatch loads, one after the other (1)")
    add("--database", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    add("--workers", type=int, help="passed to `drainwatch serve --workers` if it has it")
    add("--processor", choices=["thread", "process"], help="passed to `drainwatch serve`")
    add("--bodies", choices=["mixed", "text", "logplex"], default="mixed")
    add("--connections", type=int, default=8, help="wrk connections (8)")
    add("--threads", type=int, default=2, help="wrk threads (2)")
    add("--lines", type=int, default=100, help="lines per body (100)")
    add("--distinct", type=int, default=2000, help="distinct bodies rotated through (2000)")
    add("--catch-up", type=float, default=600.0, help="longest wait for the processor (600 s)")
    add("--seed", type=int, default=20251009)
    add("--env", type=parse_env, action="append", default=[], help="DRAINWATCH_NAME=VALUE")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.wrk = wrk.find_wrk()
    if args.wrk is None:
        print(f"bench/load.py: {wrk.INSTALL_HINT}", file=sys.stderr)
        return 2
    if args.workers is not None and not serve_supports("--workers"):
        print(
            "bench/load.py: `drainwatch serve` has no --workers option here: unsupported",
            file=sys.stderr,
        )
        return 2
    try:
        return run(args)
    except (RuntimeError, OSError, subprocess.SubprocessError, json.JSONDecodeError) as error:
        print(f"bench/load.py: the run broke: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    print_machine(args)
    start = time.perf_counter()
    bodies = make_bodies(args.bodies, args.distinct, args.lines, args.seed)
    with tempfile.TemporaryDirectory(prefix="loadbench_") as name:
        directory = Path(name)
        files = wrk.write_bodies(bodies, directory)
        size = sum(len(body.data) for body in bodies)
        print(
            f"bodies: {len(bodies):,} distinct, {args.lines} lines each ({args.bodies}), "
            f"{size / len(bodies) / 1e3:.1f} KB on average, "
            f"made in {time.perf_counter() - start:.1f} s"
        )
        ceiling = measure_ceiling(directory, files, args)
        loads = []
        with fresh_database(args.database, directory) as database:
            server = drainwatch_server(directory, database, args)
            server.start()
            try:
                for number in range(1, args.repeat + 1):
                    loads.append(measure_drainwatch(server, files, args, number))
                    if not loads[-1].caught_up and number < args.repeat:
                        print(
                            f"load {number} was not processed within {args.catch_up:g} s "
                            "(--catch-up): another would start on its backlog; repeats stopped"
                        )
                        break
            finally:
                server.stop()
    print()
    print_figures(ceiling, loads)
    print()
    print_targets(ceiling, loads, postgres=bool(args.database), defaults=not args.env)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
