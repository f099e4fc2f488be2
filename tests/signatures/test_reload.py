"""Reloading signatures on SIGHUP: a valid set is swapped in whole, an invalid one is refused and
logged while the old matcher keeps working."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.runtime import SignatureBook
from service.settings import Settings
from service.signatures.reload import Reloader, install_sighup

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = """\
id = "demo.{name}"
title = "Demo {name}"
severity = "high"
status = "stable"
priority = 10
description = "A demo signature."

[detect]
kind = "single"
keywords = ["{keyword}"]
any = ['{keyword} (?P<code>\\d+)']

[knowledge]
root_cause = "It failed."
fix = "Fix it."
verification = ["Check it."]

[[examples]]
text = "{keyword} 42"

[[examples]]
text = "boot: {keyword} 7"

[[near_misses]]
text = "{keyword} ok"
"""
needs_sighup = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on Windows")


def write_signature(directory: Path, name: str, keyword: str) -> None:
    folder = directory / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    text = SIGNATURE.format(name=name, keyword=keyword)
    (folder / f"demo.{name}.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def patterns(tmp_path: Path) -> Path:
    directory = tmp_path / "patterns"
    write_signature(directory, "first", "FIRST")
    return directory


@pytest.fixture
def book(patterns: Path) -> SignatureBook:
    return SignatureBook(Settings(_env_file=None, bundled_patterns_dir=patterns))  # type: ignore[call-arg]


def ids(book: SignatureBook) -> list[str]:
    return [signature.id for signature in book.signatures]


def test_a_reload_swaps_a_new_matcher_in_whole(book: SignatureBook, patterns: Path) -> None:
    old = book.matcher
    write_signature(patterns, "second", "SECOND")
    reloader = Reloader(book.reload)
    assert reloader() is True
    assert book.matcher is not old
    assert ids(book) == ["demo.first", "demo.second"]
    assert [s.id for s in old.signatures] == ["demo.first"]  # the old one is left untouched
    assert (reloader.reloads, reloader.failures, reloader.last_errors) == (1, 0, ())


def test_an_invalid_set_keeps_the_old_matcher_and_logs_every_problem(
    book: SignatureBook, patterns: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = book.matcher
    (patterns / "demo" / "demo.broken.toml").write_text('id = "demo.broken"\n', encoding="utf-8")
    reloader = Reloader(book.reload)
    with caplog.at_level(logging.ERROR, logger="drainwatch.signatures"):
        assert reloader() is False
    assert book.matcher is old
    assert old.matches_for("FIRST 3")[0].signature.id == "demo.first"
    assert reloader.failures == 1 and reloader.reloads == 0
    assert "demo.broken.toml: title: required key is missing" in "\n".join(reloader.last_errors)
    assert "previous signatures stay in force" in caplog.text
    assert "demo.broken.toml: detect: required key is missing" in caplog.text


def test_an_unexpected_error_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def explode() -> int:
        raise OSError("disk gone")

    reloader = Reloader(explode)
    with caplog.at_level(logging.ERROR, logger="drainwatch.signatures"):
        assert reloader() is False
    assert reloader.last_errors == ("OSError: disk gone",)
    assert "signature reload failed" in caplog.text


def test_request_reloads_in_a_background_thread(book: SignatureBook, patterns: Path) -> None:
    write_signature(patterns, "second", "SECOND")
    reloader = Reloader(book.reload)
    thread = reloader.request()
    assert thread is not threading.current_thread()
    thread.join(10)
    assert ids(book) == ["demo.first", "demo.second"]


@needs_sighup
def test_a_real_sighup_reloads_and_the_old_handler_comes_back(
    book: SignatureBook, patterns: Path
) -> None:
    before = signal.getsignal(signal.SIGHUP)
    reloader = Reloader(book.reload)
    uninstall = install_sighup(reloader)
    try:
        write_signature(patterns, "second", "SECOND")
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while reloader.reloads < 1:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.01)
    finally:
        uninstall()
    assert signal.getsignal(signal.SIGHUP) == before
    assert ids(book) == ["demo.first", "demo.second"]


@needs_sighup
def test_outside_the_main_thread_nothing_is_installed(book: SignatureBook) -> None:
    before = signal.getsignal(signal.SIGHUP)
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(install_sighup(Reloader(book.reload))))
    thread.start()
    thread.join()
    assert signal.getsignal(signal.SIGHUP) == before
    uninstall = results[0]
    assert callable(uninstall)
    uninstall()
    assert signal.getsignal(signal.SIGHUP) == before


@pytest.fixture
def server(
    tmp_path: Path, patterns: Path
) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """Start a real `drainwatch serve` on a free port; yield it, its base URL and its stderr."""
    env = {
        **os.environ,
        "DRAINWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'drainwatch.db'}",
        "DRAINWATCH_SPOOL_DIR": str(tmp_path / "spool"),
        "DRAINWATCH_PATTERNS_DIR": str(patterns),
        "DRAINWATCH_ADMIN_PASSWORD": "reload test password",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "Uvicorn running on" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), "".join(lines)
        port = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", "".join(lines))
        assert port is not None, "".join(lines)
        yield process, f"http://127.0.0.1:{port.group(1)}", lines
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        reader.join(10)
        assert process.stderr is not None
        process.stderr.close()


def pattern_ids(base: str) -> set[str]:
    credentials = base64.b64encode(b"admin:reload test password").decode()
    request = urllib.request.Request(
        f"{base}/api/patterns", headers={"Authorization": f"Basic {credentials}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {item["id"] for item in json.load(response)["patterns"]}


@pytest.mark.slow
@needs_sighup
def test_sighup_to_a_running_server_reloads_its_signatures(
    server: tuple[subprocess.Popen[str], str, list[str]], patterns: Path
) -> None:
    process, base, stderr = server
    assert "demo.first" in pattern_ids(base)
    assert "demo.second" not in pattern_ids(base)
    write_signature(patterns, "second", "SECOND")
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while "demo.second" not in pattern_ids(base):
        assert time.monotonic() < deadline, "".join(stderr)
        time.sleep(0.2)
    (patterns / "demo" / "demo.broken.toml").write_text('id = "demo.broken"\n', encoding="utf-8")
    process.send_signal(signal.SIGHUP)
    while not any("signature reload failed" in line for line in stderr):
        assert time.monotonic() < deadline, "".join(stderr)
        time.sleep(0.2)
    assert {"demo.first", "demo.second"} <= pattern_ids(base)
    assert process.poll() is None


SLOW = "none = ['ZQ(b|bb)+$']\n"


def write_slow_signature(directory: Path) -> None:
    write_signature(directory, "slow", "SLOW")
    path = directory / "demo" / "demo.slow.toml"
    path.write_text(path.read_text().replace("[detect]\n", f"[detect]\n{SLOW}"), encoding="utf-8")


def test_a_file_refused_by_its_check_is_skipped_at_start_with_its_reason(
    patterns: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_slow_signature(patterns)
    settings = Settings(_env_file=None, bundled_patterns_dir=patterns)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="drainwatch.signatures"):
        book = SignatureBook(settings)
    assert ids(book) == ["demo.first"]
    [problem] = book.problems
    assert problem.startswith("patterns/demo/demo.slow.toml: detect.none[0]: regex takes over")
    assert f"signature file skipped: {problem}" in caplog.text


def test_a_reload_with_the_same_skipped_file_takes_the_other_changes(patterns: Path) -> None:
    write_slow_signature(patterns)
    book = SignatureBook(Settings(_env_file=None, bundled_patterns_dir=patterns))  # type: ignore[call-arg]
    write_signature(patterns, "second", "SECOND")
    assert Reloader(book.reload)() is True
    assert ids(book) == ["demo.first", "demo.second"]
    assert len(book.problems) == 1


def test_a_reload_that_breaks_a_file_in_force_is_refused(
    book: SignatureBook, patterns: Path
) -> None:
    old = book.matcher
    path = patterns / "demo" / "demo.first.toml"
    path.write_text(path.read_text().replace("[detect]\n", f"[detect]\n{SLOW}"), encoding="utf-8")
    reloader = Reloader(book.reload)
    assert reloader() is False
    assert book.matcher is old and book.problems == ()
    assert "demo.first.toml: detect.none[0]: regex takes over" in reloader.last_errors[0]
