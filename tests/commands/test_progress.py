"""`scan`'s progress bar: drawn on a terminal's stderr, never when stderr is piped."""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

import pytest

from service.cli import main
from service.commands.progress import ProgressBar, line
from service.scan import Progress

LOG = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined\n"


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_piped_scan_writes_nothing_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "api.log"
    path.write_text(LOG * 3)
    assert main(["scan", str(path), "--format", "json"]) == 0
    assert capsys.readouterr().err == ""


def test_a_scan_on_a_terminal_draws_the_bar_and_clears_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "api.log"
    path.write_text(LOG * 3)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["scan", str(path), "--format", "json"]) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\r[########################] 100%  3 lines")
    assert drawn.endswith("\r\x1b[K")
    assert '"lines": 3' in capsys.readouterr().out


def test_the_bar_tells_the_share_read_the_rate_and_the_time_left() -> None:
    text = line(Progress("app.log", 200_000, done=25, size=100), seconds=2.0)
    assert text == "[######..................]  25%  200,000 lines  100,000 lines/s  6 s left"


def test_without_a_size_stdin_gets_counts_only() -> None:
    assert line(Progress("-", 1_000, None, None), seconds=0.5) == "1,000 lines  2,000 lines/s"


def test_the_bar_is_redrawn_a_few_times_a_second_not_per_chunk() -> None:
    terminal = Terminal()
    ticks = itertools.count(0, 0.05)
    bar = ProgressBar(terminal, clock=lambda: next(ticks))
    for lines in range(1, 21):
        bar(Progress("app.log", lines, lines, 20))
    assert terminal.getvalue().count("\r") == 5
