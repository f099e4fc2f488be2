"""`drainwatch patterns check|test` through the real command line."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from service.cli import main
from service.signatures.loader import load_signatures

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
GREENLET = (
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() "
    "here. Was IO attempted in an unexpected place?"
)


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run every command in an empty directory with no drainwatch environment variables."""
    monkeypatch.delenv("DRAINWATCH_PATTERNS_DIR", raising=False)
    monkeypatch.delenv("DRAINWATCH_BUNDLED_PATTERNS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def test_check_defaults_to_the_bundled_patterns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "check"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"ok: \d+ signatures, \d+ examples\n", out)


def test_check_includes_the_configured_extra_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra"
    (extra / "python").mkdir(parents=True)
    source = BUNDLED / "python" / "python.name-error.toml"
    (extra / "python" / "python.name-error.toml").write_text(
        source.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "loud"'),
        encoding="utf-8",
    )
    monkeypatch.setenv("DRAINWATCH_PATTERNS_DIR", str(extra))
    assert main(["patterns", "check"]) == 1
    assert capsys.readouterr().out == (
        "extra/python/python.name-error.toml: severity: must be one of "
        "critical, high, medium, low; got 'loud'\n"
    )


def test_check_a_directory_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    (bad / "demo").mkdir(parents=True)
    (bad / "demo" / "demo.one.toml").write_text('id = "demo.one"\n', encoding="utf-8")
    (bad / "demo" / "demo.two.toml").write_text("id = [", encoding="utf-8")
    assert main(["patterns", "check", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "bad/demo/demo.one.toml: title: required key is missing" in lines
    assert any(line.startswith("bad/demo/demo.two.toml: invalid TOML: ") for line in lines)
    assert all(line.startswith("bad/demo/demo.") for line in lines)


def test_check_a_good_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "check", str(BUNDLED)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_test_a_line_prints_the_winner_with_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "test", "NameError: name 'logger' is not defined"]) == 0
    assert capsys.readouterr().out == (
        "python.name-error  (high)  NameError: a name used at run time is not defined\n"
        "  fields: name=logger\n"
        "python.unhandled-exception  (medium)  Unhandled Python exception\n"
        "  fields: exception=NameError message=name '<str>' is not defined\n"
        "  overruled by python.name-error\n"
    )


def test_test_a_close_line_shows_its_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["patterns", "test", "[DB_RECOVERED] op=whatsapp_session_loop after 3 attempts"]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("app.db-outage  (high)  ")
    assert "  fields: attempts=3 op=whatsapp_session_loop\n" in out
    assert "  role: close" in out


def test_test_reports_no_match(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "test", "GET /healthz 200"]) == 0
    assert capsys.readouterr().out == (
        "no signature matched\n"
        "  header: (none)\n"
        "  parsed: stream=app\n"
        "  message: GET /healthz 200\n"
        "  nearest: no signature's keywords occur in it\n"
    )


def test_test_explains_a_miss_with_the_parsed_header_and_the_nearest_signature(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = "2025-10-02 10:02:14,551 WARNING [DB_DOWN] op=sync attempt one"
    assert main(["patterns", "test", line]) == 0
    assert capsys.readouterr().out == (
        "no signature matched\n"
        "  header: 2025-10-02 10:02:14,551 WARNING\n"
        "  parsed: time=2025-10-02T10:02:14.551000+00:00 level=WARNING stream=app\n"
        "  message: [DB_DOWN] op=sync attempt one\n"
        "  nearest:\n"
        "    app.db-outage: keyword '[DB_DOWN]' present, but no detect.any/close_any regex matched\n"
    )


def test_test_names_the_veto_that_turned_a_signature_down(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = "[2025-09-25 00:00:01 +0000] [812] [ERROR] Worker (pid:815) was sent SIGHUP!"
    assert main(["patterns", "test", line]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no signature matched\n")
    assert "  parsed: time=2025-09-25T00:00:01+00:00 level=ERROR instance=812 stream=app\n" in out
    assert "  message: Worker (pid:815) was sent SIGHUP!\n" in out
    rule = load_signatures([BUNDLED]).get("log.error-template")
    assert rule is not None
    vetoes = rule.detection.none
    index = next(i for i, veto in enumerate(vetoes) if "was sent" in veto)
    assert f"    log.error-template: level ERROR, but detect.none[{index}] vetoed it\n" in out


def test_test_names_an_unmet_level_condition(capsys: pytest.CaptureFixture[str]) -> None:
    line = '2025-10-02 10:02:14,551 INFO level=error msg="handled: card declined"'
    assert main(["patterns", "test", line]) == 0
    assert (
        "    log.error-template: detect.any[0] matched, but level condition not met: "
        "the header says INFO, not ERROR or CRITICAL\n"
    ) in capsys.readouterr().out


def test_test_shows_the_template_of_an_unknown_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["patterns", "test", "2025-10-02 10:02:14,551 ERROR invoice 5521 not sent"]) == 0
    assert capsys.readouterr().out == (
        "log.error-template  (low)  invoice <num> not sent\n"
        "  fields: template=invoice <num> not sent\n"
    )


def test_test_a_file_explains_only_the_lines_a_signature_came_close_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        f"GET /healthz 200\n[DB_DOWN] no op here\n{GREENLET}\n",
        encoding="utf-8",
    )
    assert main(["patterns", "test", "--file", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("line 2:\nno signature matched\n  header: (none)\n")
    assert "\n\nline 3:\nsqlalchemy.missing-greenlet  (critical)  " in out
    assert "line 1:" not in out


def test_test_reads_a_file_and_splits_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "[2025-09-19 12:43:13 +0000] [27] [INFO] Booting worker with pid: 27\n"
        f"[2025-09-19 12:43:14 +0000] [27] [ERROR] {GREENLET}\n"
        "[2025-09-19 12:43:15 +0000] [27] [INFO] GET /healthz 200\n"
        "[2025-09-19 12:43:16 +0000] [27] [WARNING] [DB_DOWN] op=loop try=1/5 sleep=2s reason=X\n",
        encoding="utf-8",
    )
    assert main(["patterns", "test", "--file", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("line 2:\nsqlalchemy.missing-greenlet  (critical)  ")
    assert "\n\nline 4:\napp.db-outage  (high)  " in out


def test_test_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["patterns", "test", "-"],
        ["patterns", "test", "--file", "-"],
        ["patterns", "test"],
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(GREENLET + "\n"))
        assert main(argv) == 0
        assert capsys.readouterr().out.startswith("sqlalchemy.missing-greenlet  (critical)")


def test_test_json_lists_every_hit_winner_first(capsys: pytest.CaptureFixture[str]) -> None:
    line = "ERROR: Pool class QueuePool cannot be used with asyncio engine"
    assert main(["patterns", "test", "--format", "json", line]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload == {
        "events": [
            {
                "first_line": 1,
                "last_line": 1,
                "hits": [
                    {
                        "signature": "sqlalchemy.async-pool-class",
                        "title": "SQLAlchemy pool class does not fit the engine (pcls)",
                        "severity": "critical",
                        "priority": 90,
                        "role": "open",
                        "fields": {"engine": "asyncio", "pool": "QueuePool"},
                        "winner": True,
                    }
                ],
            }
        ],
        "unmatched": [],
    }


def test_test_json_with_no_match_is_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "test", "--format", "json", "quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == []


def test_test_json_explains_a_miss_in_added_keys(capsys: pytest.CaptureFixture[str]) -> None:
    line = "[2025-09-19 12:43:16 +0000] [27] [WARNING] [DB_DOWN] op=loop"
    assert main(["patterns", "test", "--format", "json", line]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "events": [],
        "unmatched": [
            {
                "first_line": 1,
                "last_line": 1,
                "header": {
                    "text": "[2025-09-19 12:43:16 +0000] [27] [WARNING]",
                    "time": "2025-09-19T12:43:16+00:00",
                    "level": "WARNING",
                    "instance": "27",
                    "stream": "app",
                },
                "message": "[DB_DOWN] op=loop",
                "nearest": [
                    {
                        "signature": "app.db-outage",
                        "keywords": ["[DB_DOWN]"],
                        "reason": "keyword '[DB_DOWN]' present, but no detect.any/close_any "
                        "regex matched",
                    }
                ],
            }
        ],
    }


def test_test_escapes_control_characters_in_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "test", "[DB_DOWN] op=a\x1b[31mb try=1/5"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out


def test_test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["patterns", "test", "--file", str(tmp_path / "none.log")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_test_skips_an_invalid_file_with_its_reason_and_matches_with_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.y.toml").write_text("id = 1", encoding="utf-8")
    dirs = ["--patterns", str(BUNDLED), "--patterns", str(tmp_path / "bad")]
    assert main(["patterns", "test", *dirs, GREENLET]) == 0
    captured = capsys.readouterr()
    assert "skipped: bad/x.y.toml: id: expected a string, got an integer" in captured.err
    assert "sqlalchemy.missing-greenlet" in captured.out
