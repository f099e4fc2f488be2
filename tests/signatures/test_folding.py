"""The folded form signatures also match: HTML entities unescaped, typographic characters made
ASCII, only for texts that hold a fold marker, the stored line left as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest.records import Event, LogRecord
from service.signatures.engine import LineHit, Matcher
from service.signatures.folding import FOLD_MARKERS, fold_text
from service.signatures.loader import load_signatures
from service.signatures.prefilter import IMPLEMENTATIONS, Implementation, hyperscan_available
from service.signatures.schema import Rule

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
ESCAPED_TABLE = "sqlalchemy.exc.ProgrammingError: relation &quot;leads&quot; does not exist"
TYPOGRAPHIC_OOM = "OOM command not allowed when used memory > ‘maxmemory’"
BODY = "\n".join(
    [
        "GET /api/v1/leads?page=2&status=new 200",
        ESCAPED_TABLE,
        "naïve café – nothing to see",
        TYPOGRAPHIC_OOM,
        "OOM command not allowed when used memory &gt; &#39;maxmemory&#39;.",
        "plain line",
    ]
)


@pytest.fixture(scope="module")
def bundled() -> list[Rule]:
    return list(load_signatures([BUNDLED]).signatures)


def _one(line: str) -> Event:
    return Event(records=(LogRecord(message=line, source="api"),))


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("used memory &gt; &#39;maxmemory&#39;.", "used memory > 'maxmemory'."),
        ("&quot;leads&quot; &amp; &#x27;x&#x27;", "\"leads\" & 'x'"),
        ("‘a’ “b” – c — d…", "'a' \"b\" - c - d..."),
        ("a&nbsp;b", "a b"),
        ("memory &amp;gt; &amp;#39;maxmemory&amp;#39;", "memory > 'maxmemory'"),
        ("Relation »x« existiert nicht", "Relation »x« existiert nicht"),
        ("?page=2&status=new", "?page=2&status=new"),
    ],
)
def test_fold_text_unescapes_entities_and_makes_typography_ascii(text: str, folded: str) -> None:
    assert fold_text(text) == folded


def test_every_text_that_folding_changes_holds_a_marker() -> None:
    samples = ["&lt;", "&#39;", "&rsquo;", "’", "“", "—", "\u00a0", "&hellip;"]
    for sample in samples:
        assert fold_text(sample) != sample
        assert any(marker in sample for marker in FOLD_MARKERS), sample


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_folded_message_matches_and_keeps_its_line_as_written(
    bundled: list[Rule], implementation: Implementation
) -> None:
    if implementation == "hyperscan" and not hyperscan_available():
        pytest.skip("hyperscan not installed")
    matcher = Matcher(bundled, prefilter=implementation)
    hit = matcher.match(_one(ESCAPED_TABLE))
    assert hit is not None
    assert (hit.signature.id, dict(hit.fields)) == (
        "postgres.undefined-table",
        {"relation": "leads"},
    )
    assert hit.event.first.message == ESCAPED_TABLE
    oom = matcher.match(_one(TYPOGRAPHIC_OOM))
    assert oom is not None and oom.signature.id == "redis.oom"


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_scan_lines_folds_as_match_does(
    bundled: list[Rule], implementation: Implementation
) -> None:
    if implementation == "hyperscan" and not hyperscan_available():
        pytest.skip("hyperscan not installed")
    matcher = Matcher(bundled, prefilter=implementation)
    expected = [
        LineHit(index, hit.signature.id, hit.role, hit.fields)
        for index, line in enumerate(BODY.split("\n"))
        if (hit := matcher.match(_one(line))) is not None
    ]
    assert matcher.scan_lines(BODY) == expected
    assert [hit.line for hit in expected] == [1, 3, 4]


def test_hits_for_lists_a_signature_only_the_folded_form_matches(bundled: list[Rule]) -> None:
    hits = Matcher(bundled).hits_for(_one(TYPOGRAPHIC_OOM))
    assert [hit.signature.id for hit in hits] == ["redis.oom"]
