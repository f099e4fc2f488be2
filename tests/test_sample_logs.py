"""The sample logs give the incidents their expected files list, by `scan` and through the server;
the healthy logs give none."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cli import main
from tests.conftest import ADMIN, ROOT, post_lines

SAMPLES = ROOT / "sample_logs"
EXPECTED = sorted((SAMPLES / "expected").glob("*.json"))
BENIGN = sorted((SAMPLES / "benign").glob("*.log"))
CORE = {
    "sqlalchemy.missing-greenlet",
    "sqlalchemy.async-pool-class",
    "python.name-error",
    "app.db-outage",
}


def _key(incident: dict[str, Any]) -> tuple[str, str]:
    return incident["signature"], json.dumps(incident["fields"], sort_keys=True)


def _comparable(incident: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    expected_fields = want["fields"]
    extra = {"resolution": incident.get("resolution")} if "resolution" in want else {}
    return {
        **extra,
        "signature": incident["signature"],
        "fields": {k: incident["fields"].get(k) for k in expected_fields},
        "occurrences": incident["occurrences"],
        "first_seen": datetime.fromisoformat(incident["first_seen"]),
        "last_seen": datetime.fromisoformat(incident["last_seen"]),
        "status": incident["status"],
    }


def assert_matches_expected(found: list[dict[str, Any]], expected_path: Path) -> None:
    expected = json.loads(expected_path.read_text())["incidents"]
    core = [i for i in found if i["signature"] in CORE]
    assert len(core) == len(expected), [(_key(i), i["occurrences"]) for i in core]
    for want in expected:
        candidates = [
            _comparable(i, want)
            for i in core
            if i["signature"] == want["signature"]
            and all(i["fields"].get(k) == v for k, v in want["fields"].items())
        ]
        assert candidates, f"no {want['signature']} incident with fields {want['fields']}"
        assert candidates[0] == _comparable(want, want)


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.stem)
def test_scan_finds_the_expected_incidents(
    expected_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = SAMPLES / f"{expected_path.stem}.log"
    assert main(["scan", str(log), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["incidents"]
    assert_matches_expected(found, expected_path)


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.stem)
def test_server_finds_the_same_incidents(
    expected_path: Path, client: TestClient, runtime: Any
) -> None:
    lines = (SAMPLES / f"{expected_path.stem}.log").read_text().splitlines(keepends=True)
    for start in range(0, len(lines), 50):
        post_lines(client, "app", "".join(lines[start : start + 50]))
    runtime.processor.process_all()
    found = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert_matches_expected(found, expected_path)
    source = client.get("/api/sources/app", auth=ADMIN).json()
    assert source["lines_received"] == source["lines_processed"]


@pytest.mark.parametrize("log", BENIGN, ids=lambda p: p.stem)
def test_healthy_logs_raise_no_incident(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(log), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"] == []


def test_there_are_samples_to_test() -> None:
    assert len(EXPECTED) >= 4 and len(BENIGN) >= 3


SECRETS = [
    "Zq8vN3kTfR2mW7yLp5sXc9dHbJ4gA6eU",
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InZnNEFnRmxqWVVPckZPTmlveW1zVXAifQ",
    "v1.M7tz7W3BQpO_P8F0CnNgIsXsp0XbA6nD2L0MsX3euFxMvsBgpFtdzwGhw4lH",
]


def test_secrets_in_the_sample_never_reach_the_spool(client: TestClient, runtime: Any) -> None:
    text = (SAMPLES / "missing_greenlet.log").read_text()
    assert all(secret in text for secret in SECRETS)
    post_lines(client, "app", text)
    spooled = runtime.spool.path.read_bytes() + Path(f"{runtime.spool.path}-wal").read_bytes()
    assert spooled
    for secret in SECRETS:
        assert secret.encode() not in spooled


def test_report_names_the_failing_endpoints_and_error_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scan", str(SAMPLES / "missing_greenlet.log"), "--format", "markdown"]) == 0
    report = capsys.readouterr().out
    assert "`POST /api/v1/auth/refresh` failed 2 of 2 (500)" in report
    # 3 of the 13 requests that are not health checks (grep -v /health) between 12:38:27 and the
    # 200 of refresh at 12:46:20 answered 500.
    assert (
        "**Impact:** 3 of 13 requests failed (23.1 %) from the first hit at 12:38:27 to the "
        "recovery at 12:46:20" in report
    )
