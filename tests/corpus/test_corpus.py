"""The real-world corpus: excerpts copied verbatim from public threads and documentation, each
scanned as `drainwatch scan` scans a file, each giving the signature its manifest names (or nothing
at all for a healthy log or a near miss). Current misses stay visible as strict xfails."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.runtime import SignatureBook
from service.settings import Settings
from tests.conftest import ROOT

CORPUS = Path(__file__).resolve().parent
EXCERPTS = CORPUS / "excerpts"
MANIFEST: list[dict[str, Any]] = tomllib.loads((CORPUS / "manifest.toml").read_text())["excerpt"]
ENTRY_KEYS = {"file", "url", "expect", "fields", "known_miss", "note"}
MIN_EXCERPTS = 100
MIN_SILENT = 20


def _signature_ids() -> set[str]:
    return {tomllib.loads(path.read_text())["id"] for path in (ROOT / "patterns").glob("*/*.toml")}


def _case(entry: dict[str, Any]) -> Any:
    marks = []
    if "known_miss" in entry:
        marks.append(pytest.mark.xfail(strict=True, reason=entry["known_miss"]))
    return pytest.param(entry, id=Path(entry["file"]).stem, marks=marks)


@pytest.fixture(scope="module")
def signatures_loaded_once() -> Iterator[None]:
    """Let every `scan` of this module share one loaded signature set (loading is most of a scan)."""
    book = SignatureBook(Settings())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("service.runtime.SignatureBook", lambda settings: book)
        yield


def scan_incidents(path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Scan one file through the `scan` command and return its incidents from the JSON output."""
    assert main(["scan", str(path), "--format", "json"]) == 0
    incidents: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["incidents"]
    return incidents


@pytest.mark.parametrize("entry", [_case(e) for e in MANIFEST])
def test_excerpt_gives_its_expected_answer(
    entry: dict[str, Any], capsys: pytest.CaptureFixture[str], signatures_loaded_once: None
) -> None:
    incidents = scan_incidents(EXCERPTS / entry["file"], capsys)
    found = [(i["signature"], i["fields"]) for i in incidents]
    if not entry["expect"]:
        assert found == [], "a healthy log or near miss must open nothing"
        return
    hits = [fields for signature, fields in found if signature == entry["expect"]]
    assert hits, f"expected {entry['expect']}, found {found}"
    wanted = entry.get("fields", {})
    assert any(wanted.items() <= fields.items() for fields in hits), (wanted, hits)


def test_manifest_lists_every_excerpt_once() -> None:
    listed = [entry["file"] for entry in MANIFEST]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(path.name for path in EXCERPTS.glob("*.log"))


def test_manifest_entries_are_well_formed() -> None:
    ids = _signature_ids()
    for entry in MANIFEST:
        assert set(entry) <= ENTRY_KEYS, entry
        assert entry["url"].startswith("https://"), entry
        assert entry["expect"] == "" or entry["expect"] in ids, entry
        assert entry["expect"] or "fields" not in entry, entry
        assert entry.get("known_miss", "x").strip(), entry


def test_corpus_is_large_enough() -> None:
    silent = [entry for entry in MANIFEST if not entry["expect"]]
    assert len(MANIFEST) >= MIN_EXCERPTS
    assert len(silent) >= MIN_SILENT


def test_excerpts_are_not_empty() -> None:
    for entry in MANIFEST:
        assert (EXCERPTS / entry["file"]).read_text(encoding="utf-8").strip(), entry["file"]
