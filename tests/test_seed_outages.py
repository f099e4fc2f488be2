"""Each of the five seeds, told by a log in its format, is one outage whose report leads with what
broke, since when, the impact, the status and the first step, and whose times are the log's own.

The logs are golden scenarios (`sample_logs/scenarios/`); `tests/test_scenarios.py` pins every byte
of their reports. This checks what a reader of the seed would ask of them.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

SEEDS = {
    "000 CORS errors masking 500s": "seed_cors_masked_500",
    "001 MissingGreenlet in auth endpoints": "seed_missing_greenlet",
    "002 six failures over seven Render deploys": "seed_render_deploys",
    "003 start-up hang, port never opened": "seed_startup_hang",
    "004 Neon outage with DB_DOWN loops": "seed_db_outage",
}
LEAD = ("**What broke:**", "**Since:**", "**Impact:**", "**Status:**", "**First step:**")
_CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")


def scenario(name: str) -> tuple[dict[str, object], str, str]:
    folder = ROOT / "sample_logs" / "scenarios" / name
    log = "\n".join(path.read_text() for path in sorted(folder.glob("*.log")))
    return (
        json.loads((folder / "expected.json").read_text()),
        (folder / "expected_report.md").read_text(),
        log,
    )


@pytest.mark.parametrize("name", SEEDS.values(), ids=SEEDS.keys())
def test_the_seed_is_one_outage_over_and_done(name: str) -> None:
    scanned, _, _ = scenario(name)
    outages = scanned["outages"]
    assert isinstance(outages, list) and len(outages) == 1, outages
    [outage] = outages
    assert outage["status"] == "resolved" and outage["ended_at"]
    members = set(outage["incidents"])
    incidents = scanned["incidents"]
    assert isinstance(incidents, list)
    assert {i["id"] for i in incidents} == members  # nothing of the log is left outside it


@pytest.mark.parametrize("name", SEEDS.values(), ids=SEEDS.keys())
def test_the_report_leads_with_the_five_lines(name: str) -> None:
    _, report, _ = scenario(name)
    lines = report.splitlines()
    assert lines[0].startswith("# ") and lines[1] == ""
    lead = lines[2:7]
    for line, label in zip(lead, LEAD, strict=True):
        assert line.startswith(f"- {label} "), (label, line)
    assert "not recorded yet" not in report and "after the fact" not in report


@pytest.mark.parametrize("name", SEEDS.values(), ids=SEEDS.keys())
def test_when_it_began_and_ended_are_times_the_log_shows(name: str) -> None:
    _, report, log = scenario(name)
    since = next(line for line in report.splitlines() if line.startswith("- **Since:** "))
    times = _CLOCK.findall(since)
    assert len(times) >= 2, since
    for clock in times[:2]:
        assert clock in log, f"{clock} of {since!r} is in no line of the log"
