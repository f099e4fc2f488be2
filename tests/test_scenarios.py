"""Golden scenarios: each input replayed through `scan` and through the served app gives exactly
the expected incidents and the expected report bytes (`sample_logs/scenarios/<name>/`).

To accept a deliberate change, regenerate with `drainwatch scan input.log --source NAME
--format json|markdown` (a scenario of several sources: `drainwatch scan *.log ...`, each file one
source) and review the diff.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cli import main
from service.scan import OFFLINE
from service.settings import Settings
from tests.conftest import ADMIN, INGEST_TOKEN, ROOT

SCENARIOS = sorted(p for p in (ROOT / "sample_logs" / "scenarios").iterdir() if p.is_dir())


def inputs(scenario: Path) -> list[tuple[Path, str]]:
    """Return (log file, source): `input.log` is the scenario's one source; else one per file."""
    if (scenario / "input.log").exists():
        return [(scenario / "input.log", scenario.name)]
    return [(path, path.stem) for path in sorted(scenario.glob("*.log"))]


def scan_args(scenario: Path) -> list[str]:
    """Return the `drainwatch scan` arguments that read the scenario as its sources."""
    files = inputs(scenario)
    if len(files) == 1:
        return [str(files[0][0]), "--source", files[0][1]]
    return [str(path) for path, _ in files]


BATCH_LINES = 50


def expected(scenario: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Return the scenario's expected incidents, outages and reports (one per outage)."""
    scanned = json.loads((scenario / "expected.json").read_text())
    report = (scenario / "expected_report.md").read_text()
    return scanned["incidents"], scanned["outages"], report


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scan_gives_the_expected_incidents_and_report(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incidents, outages, report = expected(scenario)
    args = scan_args(scenario)
    assert main(["scan", *args, "--format", "json"]) == 0
    scanned = json.loads(capsys.readouterr().out)
    assert scanned["incidents"] == incidents
    assert scanned["outages"] == outages
    assert main(["scan", *args, "--format", "markdown"]) == 0
    assert capsys.readouterr().out == report


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_the_served_app_gives_the_same(scenario: Path, settings: Settings) -> None:
    from service.app import create_app

    incidents, outages, report = expected(scenario)
    # The same base URL as `scan`, and the processor's clock at the offline epoch, as `scan` has.
    app = create_app(
        settings.model_copy(update={"public_url": "http://127.0.0.1:8000"}), start_processor=False
    )
    with TestClient(app) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.processor.clock = lambda: OFFLINE
        for path, source in inputs(scenario):
            lines = path.read_text().splitlines(keepends=True)
            for start in range(0, len(lines), BATCH_LINES):
                response = client.post(
                    f"/drains/{source}",
                    content="".join(lines[start : start + BATCH_LINES]),
                    headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                )
                assert response.status_code == 202, response.text
                # One batch a step: a processor that keeps up stores each batch on its own (a
                # backlog is stored many batches a step, which hides the batch boundaries).
                runtime.processor.run_once()
            runtime.processor.process_all()
        found = sorted(
            client.get("/api/incidents", auth=ADMIN).json()["incidents"], key=lambda i: i["id"]
        )
        groups = sorted(
            client.get("/api/outages", auth=ADMIN).json()["outages"], key=lambda o: o["id"]
        )
        reports = [client.get(f"/outages/{o['id']}/report.md", auth=ADMIN).text for o in groups]
    # PostgreSQL never reuses the ids of discarded pending incidents (nor of outages merged into
    # another); SQLite does. Compare all else exactly, and ids by the order they were given in.
    renumber = {i["id"]: want["id"] for i, want in zip(found, incidents, strict=True)}
    outage_ids = {o["id"]: want["id"] for o, want in zip(groups, outages, strict=True)}
    renumbered = [
        {
            **i,
            "id": renumber[i["id"]],
            "previous_id": renumber.get(i["previous_id"]),
            "outage_id": outage_ids.get(i["outage_id"]),
        }
        for i in found
    ]
    assert renumbered == incidents
    assert [
        {
            **o,
            "id": outage_ids[o["id"]],
            "cause_id": renumber.get(o["cause_id"]),
            "incidents": [renumber[i] for i in o["incidents"]],
            "impact": {
                **o["impact"],
                "requests_counted_by": renumber.get(o["impact"]["requests_counted_by"]),
            },
        }
        for o in groups
    ] == outages
    assert "\n\n".join(_renumbered(text, renumber, outage_ids) for text in reports) == report


_OUTAGE_REF = re.compile(r"(\*\*Outage\*\* \| #|outage #|/outages/)(\d+)")
_INCIDENT_REF = re.compile(r"(#|/incidents/)(\d+)")


def _renumbered(text: str, renumber: dict[int, int], outage_ids: dict[int, int]) -> str:
    """Return a report with its incident and outage ids as the expected scan numbered them."""

    def apply(ids: dict[int, int], mark: str) -> Any:
        return lambda m: f"{m.group(1)}{mark}{ids.get(int(m.group(2)), int(m.group(2)))}"

    # Outage ids first, kept out of the incident pass by a mark no report holds.
    text = _OUTAGE_REF.sub(apply(outage_ids, "\x00"), text)
    return _INCIDENT_REF.sub(apply(renumber, ""), text).replace("#\x00", "#").replace("/\x00", "/")
