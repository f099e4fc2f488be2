"""What `bench/load.py` prints: the machine, the figures of each load as a table, and the targets
of issue 11 as met / NOT met."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.wrk import Result

ACCEPTED_TARGET = 150_000
PROCESSED_TARGET = 150_000
POSTGRES_PROCESSED_TARGET = 100_000
CEILING_SHARE = 0.30
LAG_SECONDS = 2.0
P99_MS = 50.0
RSS_MIB = 150.0
RSS_GROWTH = 0.10
DASHBOARD_SECONDS = 1.0


@dataclass
class Figures:
    """What one load measured; the ceiling has no processing figures."""

    name: str
    wrk: Result
    lines: int  # per body
    connections: int
    cpu: float  # CPU seconds of the server's tree over the load (and its catch-up)
    peak_rss: float  # MiB
    rss_after: float  # MiB
    received: int = 0
    processed: int | None = None  # processed or quarantined, since the load began
    processed_seconds: float = 0.0
    lag: float = 0.0
    caught_up: bool = True
    probe_seconds: float | None = None
    probe_note: str = ""
    incidents: int = 0

    @property
    def accepted(self) -> int:
        return self.wrk.count(202) * self.lines

    @property
    def accepted_rate(self) -> float:
        return self.accepted / self.wrk.seconds

    @property
    def processed_rate(self) -> float | None:
        if self.processed is None:
            return None
        return self.processed / self.processed_seconds

    @property
    def cpu_per_100k(self) -> float | None:
        lines = self.accepted if self.processed is None else self.processed
        return self.cpu / lines * 1e5 if lines else None


def machine() -> str:
    """Describe this machine: cores, CPU model, memory."""
    model, memory = platform.processor() or platform.machine(), 0.0
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) / 2**20
    return f"{os.cpu_count()} cores ({model}), {memory:.1f} GiB RAM"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def print_machine(args: argparse.Namespace) -> None:
    version = subprocess.run([args.wrk, "--version"], capture_output=True, text=True, check=False)  # noqa: S603 - wrk found on PATH
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    database = "PostgreSQL (a fresh schema)" if args.database else "SQLite in a temp dir (default)"
    print(f"machine: {machine()}, load average {load} at start")
    print(f"python {platform.python_version()}, {version.stdout.splitlines()[0].strip()}")
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"load: wrk, {args.connections} connections, {args.threads} threads, {args.seconds:g} s "
        f"each; drainwatch: {database}, workers {args.workers or 'not given'}, "
        f"processor {getattr(args, 'processor', None) or 'default'}, "
        f"settings: {', '.join(f'{k}={v}' for k, v in args.env) or 'defaults'}"
    )


# ---------------------------------------------------------------------------------------------
# The table.


def _rate(value: float | None, ceiling: float) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ({value / ceiling:.3f}x)"


def _answers(result: Result) -> str:
    parts = [f"{status}: {n:,}" for status, n in sorted(result.statuses.items())]
    errors = {name: n for name, n in result.errors.items() if n and name != "status"}
    parts += [f"socket {name}: {n:,}" for name, n in sorted(errors.items())]
    return ", ".join(parts) or "none"


def _seconds(figures: Figures, value: float | None) -> str:
    if figures.processed is None:
        return "-"
    return f"{value:.2f}" if value is not None else f"not seen ({figures.probe_note})"


def rows(ceiling: Figures, loads: Sequence[Figures]) -> list[tuple[str, list[str]]]:
    """Return the table: one row per figure, one column per load, the ceiling first."""
    top = ceiling.accepted_rate
    every = [ceiling, *loads]

    def lag(f: Figures) -> str:
        if f.processed is None:
            return "-"
        return f"{f.lag:.1f}" if f.caught_up else f"> {f.lag:.0f} (not caught up)"

    def cpu(f: Figures) -> str:
        value = f.cpu_per_100k
        return "-" if value is None else f"{value:.1f}"

    return [
        ("accepted lines/s (x ceiling)", [_rate(f.accepted_rate, top) for f in every]),
        ("processed lines/s (x ceiling)", [_rate(f.processed_rate, top) for f in every]),
        ("lag after the load, s", [lag(f) for f in every]),
        ("ack p50 / p99, ms", [f"{f.wrk.p50_ms:.1f} / {f.wrk.p99_ms:.1f}" for f in every]),
        ("answers by status", [_answers(f.wrk) for f in every]),
        ("peak RSS, MiB", [f"{f.peak_rss:.0f}" for f in every]),
        ("RSS after the load, MiB", [f"{f.rss_after:.0f}" for f in every]),
        ("CPU s per 100k lines", [cpu(f) for f in every]),
        ("time to dashboard, s", [_seconds(f, f.probe_seconds) for f in every]),
        (
            "lines accepted / processed",
            [
                f"{f.accepted:,} / {'-' if f.processed is None else f'{f.processed:,}'}"
                for f in every
            ],
        ),
        ("incidents stored", ["-" if f.processed is None else f"{f.incidents:,}" for f in every]),
    ]


def print_figures(ceiling: Figures, loads: Sequence[Figures]) -> None:
    """Print the table in markdown, ready for the README."""
    header = ["figure", *(f.name for f in [ceiling, *loads])]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, cells in rows(ceiling, loads):
        print("| " + " | ".join([name, *cells]) + " |")
    for load in loads:
        # wrk stops counting at its deadline: the answers of the requests then in flight (at most
        # one per connection) are received by the server but never counted as 202s.
        in_flight = load.received - load.accepted
        if load.caught_up and not 0 <= in_flight <= load.connections * load.lines:
            print(
                f"COUNTS of {load.name}: {load.accepted:,} lines answered 202, "
                f"{load.received:,} received by the server"
            )


# ---------------------------------------------------------------------------------------------
# The targets.


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target: what it asks, the figure measured, and met (None: not judged, with why)."""

    target: str
    figure: str
    met: bool | None


def targets(
    ceiling: Figures, loads: Sequence[Figures], *, postgres: bool, defaults: bool = True
) -> list[Verdict]:
    """Judge the targets of issue 11 on the worst of the loads."""
    p99 = max(f.wrk.p99_ms for f in loads)
    peak = max(f.peak_rss for f in loads)
    return [
        *throughputs(ceiling.accepted_rate, loads, postgres=postgres),
        lag(loads),
        Verdict(f"p99 ack <= {P99_MS:g} ms", f"{p99:.1f} ms", p99 <= P99_MS),
        Verdict(f"peak RSS <= {RSS_MIB:g} MiB", f"{peak:.0f} MiB", peak <= RSS_MIB),
        rss_flat(loads),
        dashboard(loads),
        refusals(loads, defaults=defaults),
    ]


def throughputs(top: float, loads: Sequence[Figures], *, postgres: bool) -> list[Verdict]:
    """Accepted and processed lines/s, absolute and as a share of the ceiling `top`."""
    accepted = min(f.accepted_rate for f in loads)
    processed = min(f.processed_rate or 0.0 for f in loads)
    share = f"{CEILING_SHARE:.0%} of the ceiling"
    on_postgres = f"PostgreSQL: processed >= {POSTGRES_PROCESSED_TARGET:,} lines/s"
    verdicts = [
        Verdict(
            f"accepted >= {ACCEPTED_TARGET:,} lines/s",
            f"{accepted:,.0f}",
            accepted >= ACCEPTED_TARGET,
        ),
        Verdict(
            f"accepted >= {share} ({top:,.0f})",
            f"{accepted / top:.1%}",
            accepted >= CEILING_SHARE * top,
        ),
        Verdict(
            f"processed >= {PROCESSED_TARGET:,} lines/s",
            f"{processed:,.0f}" if not postgres else "on SQLite only: see PostgreSQL",
            processed >= PROCESSED_TARGET if not postgres else None,
        ),
        Verdict(
            f"processed >= {share}", f"{processed / top:.1%}", processed >= CEILING_SHARE * top
        ),
    ]
    if postgres:
        verdicts.append(
            Verdict(on_postgres, f"{processed:,.0f}", processed >= POSTGRES_PROCESSED_TARGET)
        )
    else:
        verdicts.append(Verdict(on_postgres, "not measured: --database", None))
    return verdicts


def lag(loads: Sequence[Figures]) -> Verdict:
    worst = max(f.lag for f in loads)
    caught_up = all(f.caught_up for f in loads)
    figure = f"{worst:.1f} s" if caught_up else f"> {worst:.0f} s, not caught up"
    return Verdict(
        f"lag after the load <= {LAG_SECONDS:g} s", figure, caught_up and worst <= LAG_SECONDS
    )


def rss_flat(loads: Sequence[Figures]) -> Verdict:
    target = f"RSS flat across repeated loads (after-load RSS within {RSS_GROWTH:.0%})"
    if len(loads) < 2:
        return Verdict(target, "one load: --repeat 2", None)
    first, last = loads[0].rss_after, loads[-1].rss_after
    growth = (last - first) / first
    return Verdict(target, f"{first:.0f} -> {last:.0f} MiB ({growth:+.0%})", growth <= RSS_GROWTH)


def dashboard(loads: Sequence[Figures]) -> Verdict:
    target = f"a failure on the dashboard within {DASHBOARD_SECONDS:g} s under load"
    missing = [f for f in loads if f.probe_seconds is None]
    if missing:
        return Verdict(target, f"not seen ({missing[0].probe_note})", False)
    worst = max(f.probe_seconds or 0.0 for f in loads)
    return Verdict(target, f"{worst:.2f} s", worst <= DASHBOARD_SECONDS)


def refusals(loads: Sequence[Figures], *, defaults: bool) -> Verdict:
    """A default setting that refuses batches is a bug; with --env the settings are not those."""
    refused = sum(f.wrk.count(429) + f.wrk.count(503) for f in loads)
    target = "no batch refused (429/503) at the default settings"
    return Verdict(target, f"{refused:,} refused", (refused == 0) if defaults else None)


def print_targets(
    ceiling: Figures, loads: Sequence[Figures], *, postgres: bool, defaults: bool
) -> None:
    worst = " (worst of the loads)" if len(loads) > 1 else ""
    print(f"targets (issue 11){worst}:")
    verdicts = targets(ceiling, loads, postgres=postgres, defaults=defaults)
    width = max(len(v.target) for v in verdicts)
    for verdict in verdicts:
        word = {True: "met", False: "NOT met", None: "not judged"}[verdict.met]
        print(f"  {verdict.target:{width}}  {word:10}  {verdict.figure}")
    missed = sum(v.met is False for v in verdicts)
    print(f"{missed} of {sum(v.met is not None for v in verdicts)} judged targets NOT met")
