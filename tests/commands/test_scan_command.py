"""`drainwatch scan`: offline diagnosis with the contract's JSON shape, stdin, gzip, --out."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from service.cli import main
from tests.conftest import SCAN_FIELDS

LOG = """\
[2025-09-19 12:43:10 +0000] [27] [INFO] Booting worker with pid: 27
2025-09-19 12:50:01,100 - app.loop - WARNING - [DB_DOWN] op=whatsapp_session_loop try=1/5 sleep=2s reason=NeonEndpointDisabled
2025-09-19 12:50:03,100 - app.loop - WARNING - [DB_DOWN] op=whatsapp_session_loop try=2/5 sleep=4s reason=NeonEndpointDisabled
2025-09-19 12:53:03,100 - app.loop - INFO - [DB_RECOVERED] op=whatsapp_session_loop after 3 attempts
2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined
"""
CONTRACT_KEYS = set(SCAN_FIELDS)


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "api.log"
    path.write_text(LOG)
    return path


def scan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["scan", *args, "--format", "json"]) == 0
    payload: dict[str, object] = json.loads(capsys.readouterr().out)
    return payload


def test_json_has_the_contract_shape(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = scan_json(capsys, str(log_file))
    assert payload["lines"] == 5
    incidents = payload["incidents"]
    assert isinstance(incidents, list)
    for incident in incidents:
        assert set(incident) >= CONTRACT_KEYS
    summary = {(i["signature"], i["status"], i["occurrences"], i["source"]) for i in incidents}
    assert summary == {
        ("app.db-outage", "resolved", 2, "api"),
        ("python.name-error", "open", 1, "api"),
    }
    name_error = next(i for i in incidents if i["signature"] == "python.name-error")
    assert name_error["fields"] == {"name": "logger"}
    assert name_error["first_seen"] == "2025-09-19T12:55:03.100000+00:00"


def test_gzip_and_source_option(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = tmp_path / "rotated.log.gz"
    packed.write_bytes(gzip.compress(LOG.encode()))
    payload = scan_json(capsys, str(packed), "--source", "web")
    assert {i["source"] for i in payload["incidents"]} == {"web"}  # type: ignore[union-attr]


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(LOG.encode())))
    payload = scan_json(capsys, "-")
    assert {i["source"] for i in payload["incidents"]} == {"stdin"}  # type: ignore[union-attr]


def test_no_incidents_still_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_text("INFO:     Application startup complete.\n")
    assert scan_json(capsys, str(quiet)) == {"lines": 1, "incidents": [], "outages": []}


def test_unreadable_input_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(tmp_path / "missing.log")]) == 2
    assert "missing.log" in capsys.readouterr().err


def test_corrupt_gzip_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.log.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    assert main(["scan", str(bad)]) == 2


def test_out_writes_one_report_per_incident(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    assert main(["scan", str(log_file), "--out", str(out)]) == 0
    reports = sorted(p.name for p in out.iterdir())
    assert len(reports) == 2 and all(name.endswith(".md") for name in reports)
    assert "## Root cause analysis" in (out / reports[0]).read_text()


def test_scan_leaves_no_database_behind(
    log_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    main(["scan", str(log_file)])
    assert not list(tmp_path.glob("*.db"))


def test_reports_are_identical_on_a_second_scan(
    log_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["scan", str(log_file), "--format", "markdown"])
    first = capsys.readouterr().out
    main(["scan", str(log_file), "--format", "markdown"])
    assert capsys.readouterr().out == first


def test_text_output_lists_incidents(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(log_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 lines, 2 incidents")
    assert "python.name-error (name=logger)" in out


def test_a_render_logs_json_file_is_read_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    payloads = Path(__file__).parents[1] / "ingest" / "formats" / "payloads"
    incidents = scan_json(capsys, str(payloads / "json_render_logs.json"))["incidents"]
    assert isinstance(incidents, list)
    greenlet = next(i for i in incidents if i["signature"] == "sqlalchemy.missing-greenlet")
    assert greenlet["first_seen"] == "2025-09-19T12:43:14.207339+00:00"


def test_a_gunicorn_log_starting_with_a_bracket_is_still_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gunicorn.log"
    path.write_text(LOG.split("\n", 1)[0] + "\n[2025-09-19 12:55:03 +0000] [27] [ERROR] x\n")
    assert scan_json(capsys, str(path))["lines"] == 2


def test_plain_logging_format_gives_one_resolved_db_outage_with_its_downtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.log"
    path.write_text(
        "2025-10-02 10:02:14,551 WARNING [DB_DOWN] op=sync try=1/5 sleep=2s reason=X\n"
        "2025-10-02 10:02:16,552 WARNING [DB_DOWN] op=sync try=2/5 sleep=4s reason=X\n"
        "2025-10-02 10:04:14,551 INFO [DB_RECOVERED] op=sync after 3 attempts\n"
    )
    incidents = scan_json(capsys, str(path))["incidents"]
    assert isinstance(incidents, list)
    assert [(i["signature"], i["status"], i["fields"]["op"]) for i in incidents] == [
        ("app.db-outage", "resolved", "sync")
    ]
    assert incidents[0]["first_seen"] == "2025-10-02T10:02:14.551000+00:00"
    assert incidents[0]["resolved_at"] == "2025-10-02T10:04:14.551000+00:00"


def test_a_line_dated_9999_or_0001_is_diagnosed_as_untimed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.log"
    path.write_text(
        "9999-12-31T23:59:59-01:00 ERROR NameError: name 'logger' is not defined\n"
        "0001-01-01T00:00:00+01:00 ERROR NameError: name 'logger' is not defined\n"
    )
    incidents = scan_json(capsys, str(path))["incidents"]
    assert isinstance(incidents, list)
    assert [(i["signature"], i["occurrences"], i["first_seen"]) for i in incidents] == [
        ("python.name-error", 2, None)
    ]
