"""Logs as they really arrive: every file in `sample_logs/shapes/` gives the incidents and assembles
the tracebacks that `expected.toml` lists. Known misses are strict xfails, so they flip when fixed."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from typing import Any

import pytest

from service.cli import main
from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from tests.conftest import ROOT

SHAPES = ROOT / "sample_logs" / "shapes"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads(
    (SHAPES / "expected.toml").read_text(encoding="utf-8")
)


def _shapes(*, known_misses_fail: bool) -> list[Any]:
    params = []
    for name, spec in sorted(EXPECTED.items()):
        reason = spec.get("known_miss")
        marks = (
            [pytest.mark.xfail(strict=True, reason=reason)] if reason and known_misses_fail else []
        )
        params.append(pytest.param(name, marks=marks, id=name.removesuffix(".log")))
    return params


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _wanted(want: dict[str, Any]) -> dict[str, Any]:
    wanted = {
        "signature": want["signature"],
        "occurrences": want["occurrences"],
        "fields": want.get("fields", {}),
    }
    wanted.update({key: _instant(want[key]) for key in ("first_seen", "last_seen") if key in want})
    return wanted


def _comparable(incident: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """Return the incident as `_wanted` shows it: only the fields and times the expectation names."""
    fields = {key: incident["fields"].get(key) for key in want.get("fields", {})}
    found = {
        "signature": incident["signature"],
        "occurrences": incident["occurrences"],
        "fields": fields,
    }
    found.update(
        {key: _instant(incident[key]) for key in ("first_seen", "last_seen") if key in want}
    )
    return found


def test_every_shape_file_has_an_expectation() -> None:
    files = {path.name for path in SHAPES.glob("*.log")}
    assert files == set(EXPECTED)
    assert len(files) >= 30
    assert all(spec.get("shape") and "incidents" in spec for spec in EXPECTED.values())


@pytest.mark.parametrize("name", _shapes(known_misses_fail=True))
def test_scan_finds_exactly_the_expected_incidents(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(SHAPES / name), "--format", "json"]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["incidents"]
    expected = EXPECTED[name]["incidents"]
    summary = [(i["signature"], i["occurrences"], i["fields"]) for i in found]
    assert len(found) == len(expected), summary
    for want in expected:
        candidates = [
            incident
            for incident in found
            if incident["signature"] == want["signature"]
            and all(incident["fields"].get(k) == v for k, v in want.get("fields", {}).items())
        ]
        assert candidates, f"no {want['signature']} with {want.get('fields', {})} in {summary}"
        assert _comparable(candidates[0], want) == _wanted(want)


@pytest.mark.parametrize("name", _shapes(known_misses_fail=False))
def test_shape_assembles_its_tracebacks(name: str) -> None:
    text = (SHAPES / name).read_text(encoding="utf-8")
    events = assemble(parse_text(text, source="shapes"))
    assert [e.exception_type for e in events if e.exception_type] == EXPECTED[name]["tracebacks"]
