"""The load benchmark (`bench/load.py`, `make bench-load`): wrk's summary read back, the targets
judged from the figures, a clear exit without wrk, and a 2-second run end to end when wrk is here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.loadreport import Figures, targets
from bench.wrk import Body, Result, parse_summary, write_bodies

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "load.py"

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:40001
  2 threads and 8 connections
LOADBENCH requests 1234
LOADBENCH duration_us 2003456
LOADBENCH bytes_read 98765
LOADBENCH error_connect 0
LOADBENCH error_read 0
LOADBENCH error_write 0
LOADBENCH error_status 34
LOADBENCH error_timeout 2
LOADBENCH latency_p50_us 1500
LOADBENCH latency_p90_us 9000
LOADBENCH latency_p99_us 48250
LOADBENCH latency_max_us 120000
LOADBENCH status_202 1200
LOADBENCH status_429 30
LOADBENCH status_503 4
"""


def test_wrk_summary_gives_statuses_latencies_and_errors() -> None:
    result = parse_summary(WRK_OUTPUT)
    assert result.requests == 1234
    assert result.seconds == pytest.approx(2.003456)
    assert result.statuses == {202: 1200, 429: 30, 503: 4}
    assert result.refused() == {429: 30, 503: 4}
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (1.5, 48.25, 120.0)
    assert result.errors["timeout"] == 2


def test_output_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no wrk summary"):
        parse_summary("Running 2s test @ http://127.0.0.1:40001\nunable to connect\n")


def test_bodies_and_their_manifest_line_up(tmp_path: Path) -> None:
    bodies = [
        Body("/drains/a", "text/plain; charset=utf-8", b"one\ntwo\n", 2),
        Body("/drains/b", "application/logplex-1", b"12 <190>1 - x\n", 1, logplex=True),
    ]
    manifest, blob = write_bodies(bodies, tmp_path)
    data = blob.read_bytes()
    rows = [line.split("\t") for line in manifest.read_text().splitlines()]
    assert [row[:3] for row in rows] == [
        ["/drains/a", "text/plain; charset=utf-8", "0"],
        ["/drains/b", "application/logplex-1", "1"],
    ]
    for row, body in zip(rows, bodies, strict=True):
        offset, length = int(row[3]), int(row[4])
        assert data[offset : offset + length] == body.data


def figures(
    name: str,
    accepted_requests: int,
    *,
    refused: dict[int, int] | None = None,
    p99_ms: float = 5.0,
    **more: Any,
) -> Figures:
    """A load of 10 s whose 202s carried 100 lines each."""
    statuses = {202: accepted_requests, **(refused or {})}
    result = Result(requests=sum(statuses.values()), seconds=10.0, statuses=statuses, p99_ms=p99_ms)
    return Figures(name, result, 100, 8, cpu=1.0, peak_rss=100.0, **{"rss_after": 90.0, **more})


def verdicts_of(ceiling: Figures, loads: list[Figures], **options: bool) -> dict[str, bool | None]:
    found = targets(ceiling, loads, postgres=options.get("postgres", False))
    return {verdict.target.split(" (")[0]: verdict.met for verdict in found}


def test_a_fast_drainwatch_meets_the_targets_and_a_refusal_does_not() -> None:
    ceiling = figures("ceiling", 50_000)  # 500,000 lines/s
    fast = figures(
        "drainwatch",
        20_000,  # 200,000 lines/s accepted
        processed=2_000_000,
        processed_seconds=10.5,
        lag=0.5,
        probe_seconds=0.4,
    )
    verdicts = verdicts_of(ceiling, [fast])
    assert verdicts["accepted >= 150,000 lines/s"] is True
    assert verdicts["accepted >= 30% of the ceiling"] is True
    assert verdicts["processed >= 150,000 lines/s"] is True
    assert verdicts["lag after the load <= 2 s"] is True
    assert verdicts["p99 ack <= 50 ms"] is True
    assert verdicts["a failure on the dashboard within 1 s under load"] is True
    assert verdicts["no batch refused"] is True
    assert verdicts["RSS flat across repeated loads"] is None  # one load
    refused = figures(
        "drainwatch",
        20_000,
        processed=2_000_000,
        processed_seconds=10.5,
        refused={429: 3},
        p99_ms=80.0,
    )
    verdicts = verdicts_of(ceiling, [refused])
    assert verdicts["no batch refused"] is False
    assert verdicts["p99 ack <= 50 ms"] is False
    assert verdicts["a failure on the dashboard within 1 s under load"] is False  # never seen


def test_targets_take_the_worst_load_and_judge_rss_growth() -> None:
    ceiling = figures("ceiling", 50_000)
    first = figures("#1", 20_000, processed=2_000_000, processed_seconds=10.0, rss_after=100.0)
    second = figures("#2", 10_000, processed=1_000_000, processed_seconds=10.0, rss_after=130.0)
    verdicts = verdicts_of(ceiling, [first, second], postgres=True)
    assert verdicts["accepted >= 150,000 lines/s"] is False  # the second load: 100,000
    assert verdicts["PostgreSQL: processed >= 100,000 lines/s"] is True
    assert verdicts["RSS flat across repeated loads"] is False  # +30 %


def test_without_wrk_it_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty directory: no wrk on it
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "wrk is not installed" in done.stderr
    assert "apt-get install -y wrk" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
@pytest.mark.timeout(90)
def test_a_two_second_run_prints_every_figure_and_target() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "2", "--lines", "20", "--distinct", "40"],
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for figure in (
        "| accepted lines/s (x ceiling) |",
        "| processed lines/s (x ceiling) |",
        "| lag after the load, s |",
        "| ack p50 / p99, ms |",
        "| answers by status | 202: ",
        "| peak RSS, MiB |",
        "| CPU s per 100k lines |",
        "| time to dashboard, s |",
        "targets (issue 11):",
        "accepted >= 150,000 lines/s",
        "a failure on the dashboard within 1 s under load",
    ):
        assert figure in done.stdout
    assert "COUNTS" not in done.stdout
