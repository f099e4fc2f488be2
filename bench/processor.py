"""Benchmark the processor end to end (spool -> assemble -> match -> incidents -> commit -> ack)
and `drainwatch scan`, against the matcher alone and the naive loop in the same run.

    .venv/bin/python bench/processor.py [--lines N] [--batch-lines L] [--sources S]
        [--scan-lines N] [--naive-lines N] [--database URL] [--prefill N] [--profile DIR]
        [--skip PHASE...]

Phases, each in a subprocess of its own (so each has its own peak RSS), on one seeded corpus
(`corpus.py`: gunicorn, uvicorn, Python logging, Heroku, Render and JSON lines, ~0.5% failure
lines and tracebacks from the signatures' own examples):
- processor: the corpus parsed as intake parses text bodies, in batches of L lines spread over
  S sources, put in a spool (untimed), then the processor draining it timed step by step:
  lines/s, CPU us per line (overall, and per 100,000 lines stored, to show growth as the
  database fills), peak RSS, and what it stored (incidents and occurrences, to compare runs);
- matcher: `Matcher.scan_lines` over the same text (the engine alone, no database);
- naive: every signature regex on every line (`engine.py`'s baseline), on the first lines only;
- scan: `python -m service scan FILE --format json` of a file of `--scan-lines` lines, end to end.
`--prefill N` first fills the database with N resolved incidents (outages, events, timeline
entries, notifications and deploys with them), as months of use would: the cost of a line
should not grow with them. `--profile DIR` records py-spy profiles of the processor and scan
phases there (py-spy is a dev extra). Not a test: figures depend on the machine; compare within
one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import corpus
from engine import compile_baseline, cpu_name, run_baseline

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("processor", "matcher", "naive", "scan")
# Batches arrive every 50 ms from START on; the processor's clock moves as fast, a step of 50
# batches (2.5 s) per tick, so what it holds back expires as a server's would, and every run of
# the same corpus gives the same events and the same incidents.
START = datetime(2025, 10, 9, 7, 40, tzinfo=UTC)
ARRIVAL = timedelta(milliseconds=50)
STEP = 50 * ARRIVAL
# What a phase measured, as it prints it (JSON).
Figures = dict[str, Any]


def corpus_lines(lines: int, seed: int) -> list[str]:
    """Return the seeded corpus, one string per line."""
    from service.signatures.loader import load_signatures

    rules = list(load_signatures([ROOT / "patterns"]).signatures)
    failures = [c.example.text for r in rules for c in r.cases if c.example.matches]
    misses = [c.example.text for r in rules for c in r.cases if not c.example.matches]
    text = corpus.generate(lines, failures=failures, near_misses=misses, seed=seed)
    return text.split("\n")


def peak_rss_mb() -> float:
    """Return this process's peak resident set size, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_processor(args: argparse.Namespace) -> Figures:
    """Spool the corpus in batches, then time the processor draining the spool."""
    from sqlmodel import Session, select

    from service.db import create_db_engine, upgrade_schema
    from service.ingest.headers import parse_text
    from service.models import Incident, Source
    from service.processor import Processor
    from service.runtime import SignatureBook
    from service.settings import Settings
    from service.spool.store import Spool

    lines = corpus_lines(args.lines, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench_processor_") as directory:
        url = args.database or f"sqlite:///{Path(directory) / 'drainwatch.db'}"
        engine = create_db_engine(url)
        upgrade_schema(engine)
        spool = Spool(Path(directory) / "spool", max_bytes=10**10)
        sources = [f"app-{index}" for index in range(args.sources)]
        prefill(engine, sources, args.prefill)
        for number, begin in enumerate(range(0, len(lines), args.batch_lines)):
            body = "\n".join(lines[begin : begin + args.batch_lines])
            source = sources[number % len(sources)]
            received = START + number * ARRIVAL
            records = parse_text(body, source=source, received_at=received)
            spool.append(source, records, received_at=received)
        book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
        ticks = itertools.count(1)
        processor = Processor(
            engine=engine,
            spool=spool,
            matcher=lambda: book.matcher,
            clock=lambda: START + next(ticks) * STEP,
        )
        book.matcher.match_all([])  # the matcher compiles before the clock starts
        cpu, wall = time.process_time(), time.perf_counter()
        marks = [(0, 0.0)]  # (lines stored, CPU seconds) after each step
        while done := processor.run_once():
            marks.append((marks[-1][0] + done * args.batch_lines, time.process_time() - cpu))
        processor.run_once(force_flush=True)
        batches = processor.batches_done
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with Session(engine) as session:
            received = sum(s.lines_received for s in session.exec(select(Source)))
            processed = sum(s.lines_processed for s in session.exec(select(Source)))
            incidents = [
                incident
                for incident in session.exec(select(Incident))
                if not incident.fingerprint.startswith("prefilled:")
            ]
            stored = Counter(i.signature for i in incidents)
            occurrences = sum(i.occurrences for i in incidents)
        engine.dispose()
    return {
        "lines": len(lines),
        "batches": batches,
        "seconds": wall,
        "cpu": cpu,
        "received": received,
        "processed": processed,
        "incidents": len(incidents),
        "occurrences": occurrences,
        "signatures": dict(sorted(stored.items())),
        "rss": peak_rss_mb(),
        "segments": segments(marks, GROWTH_LINES),
    }


GROWTH_LINES = 100_000


def prefill(engine: Any, sources: list[str], incidents: int) -> None:
    """Fill the database as months of use would, before the corpus's times: `incidents`
    resolved incidents one minute apart over the sources, each in an outage of its own, with
    three events, two timeline entries and two notifications; a deploy every four incidents."""
    from sqlalchemy import insert

    if not incidents:
        return
    with engine.begin() as connection:
        for model, rows in prefilled_rows(sources, incidents):
            connection.execute(insert(model), rows)
        if connection.dialect.name == "postgresql":
            # The rows above were given their ids: the sequences go on after them.
            for table in ("incident", "outage"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {incidents})"
                )


def prefilled_rows(sources: list[str], incidents: int) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Return the rows `prefill` inserts, table by table, parents first."""
    from service.models import (
        Deploy,
        Incident,
        IncidentEvent,
        Notification,
        Outage,
        Source,
        TimelineEntry,
    )

    first = START - timedelta(minutes=incidents)
    spans = [
        (n + 1, sources[n % len(sources)], first + timedelta(minutes=n)) for n in range(incidents)
    ]
    return [
        (Source, [{"name": name, "created_at": first} for name in sources]),
        (Outage, [prefilled_outage(*span) for span in spans]),
        (Incident, [prefilled_incident(*span) for span in spans]),
        (
            IncidentEvent,
            [
                {
                    "incident_id": ident,
                    "time": when,
                    "instance": "1",
                    "role": "open",
                    "text": "ValueError: prefilled " * 10,
                    "fields": {},
                }
                for ident, _, when in spans
                for _ in range(3)
            ],
        ),
        (
            TimelineEntry,
            [
                {
                    "source": source,
                    "incident_id": ident,
                    "time": when,
                    "kind": kind,
                    "text": "prefilled",
                }
                for ident, source, when in spans
                for kind in ("opened", "resolved")
            ],
        ),
        (
            Notification,
            [
                {
                    "incident_id": ident,
                    "event": event,
                    "payload": {},
                    "created_at": when,
                    "next_attempt_at": when,
                    "webhook_status": "off",
                    "slack_status": "off",
                }
                for ident, _, when in spans
                for event in ("incident.opened", "incident.resolved")
            ],
        ),
        (
            Deploy,
            [
                {
                    "source": source,
                    "platform": "render",
                    "started_at": when,
                    "live_at": when + timedelta(minutes=2),
                    "status": "live",
                    "version": "",
                    "detail": "",
                }
                for _, source, when in spans[::4]
            ],
        ),
    ]


def prefilled_outage(ident: int, source: str, when: datetime) -> dict[str, Any]:
    """Return a resolved outage of one prefilled incident."""
    return {
        "id": ident,
        "source": source,
        "title": "prefilled",
        "status": "resolved",
        "started_at": when,
        "ended_at": when + timedelta(seconds=30),
        "created_at": when,
        "cause_id": ident,
    }


def prefilled_incident(ident: int, source: str, when: datetime) -> dict[str, Any]:
    """Return a resolved incident, hit three times in 30 s, its quiet period passed."""
    return {
        "id": ident,
        "signature": "python.unhandled-exception",
        "title": "prefilled",
        "severity": "high",
        "status": "resolved",
        "source": source,
        "first_seen": when,
        "last_seen": when + timedelta(seconds=30),
        "occurrences": 3,
        "fields": {},
        "confidence": "exact",
        "outage_id": ident,
        "fingerprint": f"prefilled:{ident}",
        "opened_at": when,
        "resolved_at": when + timedelta(minutes=1),
        "resolution": "quiet",
        "note": "",
        "owner": "",
        "business_impact": "",
        "fix_commit": "",
        "action_items": [],
    }


def segments(marks: list[tuple[int, float]], size: int) -> list[float]:
    """Return the CPU us per line of each `size` lines stored (the last, shorter one dropped),
    from (lines stored, CPU seconds) marks taken after every step."""
    per_line: list[float] = []
    begin_lines, begin_cpu = marks[0]
    for lines, cpu in marks[1:]:
        if lines - begin_lines >= size:
            per_line.append(1e6 * (cpu - begin_cpu) / (lines - begin_lines))
            begin_lines, begin_cpu = lines, cpu
    return per_line


def phase_matcher(args: argparse.Namespace) -> Figures:
    """Time the engine's whole-text scan of the same corpus (best of three)."""
    from service.signatures.engine import Matcher
    from service.signatures.loader import load_signatures

    text = "\n".join(corpus_lines(args.lines, args.seed))
    matcher = Matcher(list(load_signatures([ROOT / "patterns"]).signatures))
    best, hits = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        hits = len(matcher.scan_lines(text))
        best = min(best, time.perf_counter() - start)
    return {"lines": args.lines, "seconds": best, "hits": hits, "rss": peak_rss_mb()}


def phase_naive(args: argparse.Namespace) -> Figures:
    """Time every signature regex on every line, on the first `--naive-lines` lines."""
    from service.signatures.loader import load_signatures

    text = "\n".join(corpus_lines(args.naive_lines, args.seed))
    rules, _ = compile_baseline(list(load_signatures([ROOT / "patterns"]).signatures))
    start = time.perf_counter()
    hits = len(run_baseline(rules, text))
    return {
        "lines": args.naive_lines,
        "seconds": time.perf_counter() - start,
        "hits": hits,
        "rss": peak_rss_mb(),
    }


def phase_scan(args: argparse.Namespace) -> Figures:
    """Time `drainwatch scan` of a file of `--scan-lines` lines, end to end, in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as directory:
        path = Path(directory) / "app.log"
        path.write_text("\n".join(corpus_lines(args.scan_lines, args.seed)) + "\n")
        out = Path(directory) / "scan.json"
        command = [sys.executable, "-m", "service", "scan", str(path), "--format", "json"]
        if args.profile:
            command = profiled(command, args.profile / "scan.txt")
        start = time.perf_counter()
        with out.open("wb") as stdout:
            process = subprocess.Popen(command, stdout=stdout, cwd=ROOT)  # noqa: S603
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"scan exited with status {status}")
        text = out.read_text()  # py-spy, when it runs the scan, prints lines of its own
        report, _ = json.JSONDecoder().raw_decode(text, text.index("{"))
    incidents = report["incidents"]
    return {
        "lines": report["lines"],
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "incidents": len(incidents),
        "occurrences": sum(i["occurrences"] for i in incidents),
        "outages": len(report.get("outages", [])),
        "rss": usage.ru_maxrss / 1024,
    }


def profiled(command: list[str], output: Path) -> list[str]:
    """Return `command` run under py-spy, writing collapsed stacks to `output`."""
    spy = Path(sys.executable).with_name("py-spy")
    return [str(spy), "record", "-r", "250", "-f", "raw", "-o", str(output), "--", *command]


def run_phase(name: str, args: argparse.Namespace, argv: Sequence[str]) -> Figures:
    """Run one phase in a subprocess of its own and return what it printed."""
    command = [sys.executable, __file__, "--phase", name, *argv]
    if name == "processor" and args.profile:
        command = profiled(command, args.profile / "processor.txt")
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{result.stderr}")
    # py-spy, when it runs the phase, prints lines of its own
    last = [line for line in result.stdout.splitlines() if line.startswith("{")][-1]
    figures: Figures = json.loads(last)
    return figures


LABELS = {
    "processor": "processor ({batch}-line batches)",
    "matcher": "matcher alone (scan_lines)",
    "naive": "naive (every regex, every line)",
    "scan": "drainwatch scan, end to end",
}


def rate(figures: Figures) -> float:
    """Return the lines per second of a phase."""
    return float(figures["lines"]) / float(figures["seconds"])


def show(args: argparse.Namespace, results: dict[str, Figures]) -> None:
    """Print the figures of one run side by side."""
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"tree: {ROOT}")
    print(f"corpus: seed {args.seed}, ~0.5% failure lines from the signatures' examples")
    print()
    head = f"{'lines':>9} {'seconds':>8} {'lines/s':>11} {'CPU us/line':>11} {'RSS MiB':>8}"
    print(f"{'what':34} {head}")
    for name, figures in results.items():
        cpu = figures.get("cpu")
        per_line = f"{1e6 * cpu / figures['lines']:11.1f}" if cpu else f"{'-':>11}"
        label = LABELS[name].format(batch=args.batch_lines)
        print(
            f"{label:34} {figures['lines']:>9,} {figures['seconds']:8.2f} "
            f"{rate(figures):11,.0f} {per_line} {figures['rss']:8.0f}"
        )
    print()
    if "processor" in results:
        p = results["processor"]
        store = "the given database" if args.database else "SQLite (a file, WAL)"
        print(
            f"processor: {p['batches']} batches of {args.batch_lines} lines over {args.sources} "
            f"sources on {store}; received {p['received']:,}, processed {p['processed']:,}; "
            f"{p['incidents']} incidents, {p['occurrences']} occurrences"
        )
        print(f"processor: incidents by signature {p['signatures']}")
        if args.prefill:
            print(f"processor: on a database prefilled with {args.prefill:,} resolved incidents")
        if p["segments"]:
            shown = ", ".join(f"{figure:.1f}" for figure in p["segments"])
            print(f"processor: CPU us/line per {GROWTH_LINES:,} lines stored, in order: {shown}")
        verdict = "OK" if p["received"] == p["processed"] else "MISMATCH"
        print(f"processor: COUNTS {verdict} (every line received is processed)")
        for name in ("matcher", "naive"):
            if name in results:
                ratio = rate(p) / rate(results[name])
                print(f"processor vs {name}: {ratio:.3f}x")
    if "scan" in results:
        s = results["scan"]
        found = f"{s['incidents']} incidents, {s['occurrences']} occurrences"
        print(f"scan: {found}, {s['outages']} outages")
        if "naive" in results:
            print(f"scan vs naive: {rate(s) / rate(results['naive']):.1f}x")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="processor corpus (200,000)")
    parser.add_argument("--batch-lines", type=int, default=100, help="lines per batch (100)")
    parser.add_argument("--sources", type=int, default=4, help="sources the batches go to (4)")
    parser.add_argument("--scan-lines", type=int, default=1_000_000, help="scan file (1,000,000)")
    parser.add_argument("--naive-lines", type=int, default=20_000, help="naive loop (20,000)")
    parser.add_argument("--seed", type=int, default=20251009)
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="resolved incidents (with outages, events, deploys) in the database first (0)",
    )
    parser.add_argument(
        "--database", default="", help="an empty database's URL (default: a new SQLite file)"
    )
    parser.add_argument("--profile", type=Path, default=None, help="write py-spy profiles here")
    parser.add_argument("--skip", nargs="*", choices=PHASES, default=[], help="phases to skip")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.phase:
        phase = {
            "processor": phase_processor,
            "matcher": phase_matcher,
            "naive": phase_naive,
            "scan": phase_scan,
        }[args.phase]
        print(json.dumps(phase(args)))
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in PHASES:
        if name not in args.skip:
            results[name] = run_phase(name, args, argv)
    show(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
