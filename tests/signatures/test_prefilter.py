"""The literal prefilter: hyperscan and pure Python give identical candidates, and so does the
matcher's whole-body `scan_lines` built on them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.ingest.records import Event, LogRecord
from service.signatures import prefilter as prefilter_module
from service.signatures.engine import LineHit, Matcher
from service.signatures.loader import load_signatures
from service.signatures.model import Knowledge
from service.signatures.prefilter import (
    Candidate,
    Implementation,
    Prefilter,
    build_prefilter,
    hyperscan_available,
)
from service.signatures.schema import Detection, Rule, SignatureError

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "patterns"
NO_HYPERSCAN = "hyperscan cannot be imported here: only the pure-Python prefilter is tested"
IMPLEMENTATIONS = [
    "python",
    pytest.param(
        "hyperscan", marks=pytest.mark.skipif(not hyperscan_available(), reason=NO_HYPERSCAN)
    ),
]
BOTH = pytest.mark.skipif(not hyperscan_available(), reason=NO_HYPERSCAN)

GROUPS: list[tuple[str, ...]] = [
    ("Traceback (most recent call last):", "Error: ", "Exception: "),
    ("ValueError: ", "Error: "),  # overlaps the first group's keywords
    ("[DB_DOWN]", "[DB_RECOVERED]"),
    ("Ünïcödé 🎉", "naïve"),
    ("x",),
]


def oracle(groups: Sequence[Sequence[str]], body: str) -> list[Candidate]:
    """The definition: split at `\\n`, drop a `\\r` before it, test every keyword with `in`."""
    found: list[Candidate] = []
    for index, raw in enumerate(body.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        owners = tuple(i for i, group in enumerate(groups) if any(k in line for k in group))
        if owners:
            found.append(Candidate(index, line, owners))
    return found


@pytest.fixture(scope="module")
def bundled() -> list[Rule]:
    return list(load_signatures([BUNDLED]).signatures)


@pytest.fixture(scope="module")
def groups(bundled: list[Rule]) -> list[tuple[str, ...]]:
    return [rule.detection.keywords for rule in bundled]


@pytest.fixture(scope="module")
def corpus(bundled: list[Rule]) -> str:
    """Real benign logs with every bundled example and near miss mixed in, CRLF lines included."""
    benign = [
        path.read_text(encoding="utf-8") for path in sorted((ROOT / "sample_logs").glob("*.log"))
    ]
    examples = [case.example.text for rule in bundled for case in rule.cases]
    parts = [text for pair in zip(benign * 20, examples, strict=False) for text in pair]
    parts.extend(examples)
    return "\r\n".join(parts[:5]) + "\n" + "\n".join(parts[5:])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty body"),
        pytest.param("\n\n\n", id="only newlines"),
        pytest.param("Error: at the very start\nquiet", id="keyword at start of body"),
        pytest.param("quiet\nends with ValueError: ", id="keyword at end of body, no newline"),
        pytest.param("quiet\nends with [DB_DOWN]\n", id="keyword then final newline"),
        pytest.param("a\r\nError: crlf\r\nb\r\n", id="crlf lines"),
        pytest.param("Error:\r\n Error:\r", id="cr kept off the line"),
        pytest.param("Trace\nback (most recent call last):\nError\n: ", id="no match across lines"),
        pytest.param("ValueError: Error: Exception: twice on one line", id="overlapping keywords"),
        pytest.param("🎉🎉 naïve\nÜnïcödé 🎉 at the end", id="unicode before keywords"),
        pytest.param("\ud800 lone surrogate then x", id="lone surrogate"),
        pytest.param("a nul\x00byte\x00 in a line x", id="nul byte in the body"),
        pytest.param("xx\nxx\nxx", id="same keyword every line"),
        pytest.param("nothing to see\nhere", id="no keyword"),
    ],
)
def test_edge_cases_match_the_definition(implementation: Implementation, body: str) -> None:
    prefilter = build_prefilter(GROUPS, implementation=implementation)
    assert prefilter.scan(body) == oracle(GROUPS, body)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_generated_corpus_matches_the_definition(
    implementation: Implementation, groups: list[tuple[str, ...]], corpus: str
) -> None:
    expected = oracle(groups, corpus)
    assert len(expected) > len(groups)
    assert build_prefilter(groups, implementation=implementation).scan(corpus) == expected


@BOTH
@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_hyperscan_chunking_changes_nothing(
    chunk: int, groups: list[tuple[str, ...]], corpus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefilter_module, "_CHUNK_CHARACTERS", chunk)
    prefilter = build_prefilter(groups, implementation="hyperscan")
    assert prefilter.scan(corpus) == oracle(groups, corpus)


@BOTH
def test_both_implementations_agree_on_the_generated_corpus(
    groups: list[tuple[str, ...]], corpus: str
) -> None:
    body = corpus
    python = build_prefilter(groups, implementation="python")
    hyperscan = build_prefilter(groups, implementation="hyperscan")
    assert hyperscan.scan(body) == python.scan(body)
    for line in body.split("\n"):
        assert hyperscan.owners(line) == python.owners(line)
    assert hyperscan.owners(body) == python.owners(body)


FRAGMENTS = st.sampled_from(
    [
        *("Error", ": ", "Value", "Traceback (most recent call last):", "[DB_", "DOWN]", "x"),
        *("é", "🎉", "naïve", "Ünïcödé", " ", "\n", "\r\n", "\r", "Exception: ", "a", "\ud800"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_any_body_gives_the_same_candidates_everywhere(body: str) -> None:
    expected = oracle(GROUPS, body)
    python = build_prefilter(GROUPS, implementation="python")
    assert python.scan(body) == expected
    assert python.owners(body) == tuple(
        i for i, group in enumerate(GROUPS) if any(k in body for k in group)
    )
    if hyperscan_available():
        hyperscan = build_prefilter(GROUPS, implementation="hyperscan")
        assert hyperscan.scan(body) == expected
        assert hyperscan.owners(body) == python.owners(body)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("keyword", ["", "two\nlines", "carriage\rreturn", "nul\x00byte"])
def test_keywords_must_be_one_non_empty_line(implementation: Implementation, keyword: str) -> None:
    with pytest.raises(ValueError, match="on one line"):
        build_prefilter([("fine", keyword)], implementation=implementation)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_no_keywords_at_all_means_no_candidates(implementation: Implementation) -> None:
    prefilter = build_prefilter([], implementation=implementation)
    assert prefilter.scan("Error: anything\n") == []
    assert prefilter.owners("Error: anything") == ()


@BOTH
def test_auto_prefers_hyperscan_and_python_can_be_forced() -> None:
    assert build_prefilter(GROUPS).name == "hyperscan"
    assert build_prefilter(GROUPS, implementation="python").name == "python"
    assert Matcher([], prefilter="python").prefilter == "python"
    assert Matcher([]).prefilter == "hyperscan"


def test_without_hyperscan_auto_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # makes `import hyperscan` fail
    assert not hyperscan_available()
    assert build_prefilter(GROUPS).name == "python"
    with pytest.raises(ImportError):
        build_prefilter(GROUPS, implementation="hyperscan")


@BOTH
def test_hyperscan_scratch_is_per_thread() -> None:
    prefilter: Prefilter = build_prefilter(GROUPS, implementation="hyperscan")
    body = "\n".join(["quiet line", "ValueError: bad", "[DB_DOWN] op=x", "naïve"] * 500)
    expected = oracle(GROUPS, body)
    results: list[list[Candidate]] = []

    def scan() -> None:
        for _ in range(5):
            results.append(prefilter.scan(body))

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert all(result == expected for result in results)


def line_by_line(matcher: Matcher, body: str) -> list[LineHit]:
    """What `scan_lines` must equal: `match` on each line as a one-record event."""
    hits: list[LineHit] = []
    for index, raw in enumerate(body.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        hit = matcher.match(Event(records=(LogRecord(message=line, source="text", seq=index),)))
        if hit is not None:
            hits.append(LineHit(index, hit.signature.id, hit.role, hit.fields))
    return hits


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_scan_lines_equals_match_on_every_line(
    bundled: list[Rule], corpus: str, implementation: Implementation
) -> None:
    body = corpus
    hits = Matcher(bundled, prefilter=implementation).scan_lines(body)
    assert hits == line_by_line(Matcher(bundled, prefilter="python"), body)
    assert {hit.signature for hit in hits} >= {"app.db-outage", "python.name-error"}
    assert any(hit.role == "close" for hit in hits)


@BOTH
def test_scan_lines_is_identical_with_either_prefilter(bundled: list[Rule], corpus: str) -> None:
    body = corpus
    python = Matcher(bundled, prefilter="python").scan_lines(body)
    assert Matcher(bundled, prefilter="hyperscan").scan_lines(body) == python
    assert len(python) > 50


def rule(ident: str, *, keywords: tuple[str, ...], any: tuple[str, ...], priority: int) -> Rule:
    return Rule(
        id=ident,
        title=ident,
        severity="high",
        description="test",
        kind="single",
        priority=priority,
        group_by=(),
        knowledge=Knowledge(root_cause="r", fix="f"),
        detection=Detection(keywords=keywords, any=any),
    )


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_scan_lines_disables_a_signature_that_times_out(implementation: Implementation) -> None:
    slow = rule("demo.slow", keywords=("a",), any=("(a+)+$",), priority=9)
    fine = rule("demo.fine", keywords=("a",), any=("^a",), priority=1)
    matcher = Matcher([slow, fine], timeout=0.01, prefilter=implementation)
    body = "quiet\n" + "a" * 5000 + "!\nab"
    hits = matcher.scan_lines(body)
    assert [(hit.line, hit.signature) for hit in hits] == [(1, "demo.fine"), (2, "demo.fine")]
    assert set(matcher.disabled) == {"demo.slow"}
    assert dict(matcher.timeouts) == {"demo.slow": 1}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_scan_lines_reports_line_indexes_and_fields(implementation: Implementation) -> None:
    boom = rule("demo.boom", keywords=("BOOM",), any=(r"BOOM (?P<n>\d+)",), priority=5)
    matcher = Matcher([boom], prefilter=implementation)
    hits = matcher.scan_lines("BOOM 1\r\nquiet\nBOOM later\n🎉 BOOM 22")
    assert hits == [
        LineHit(0, "demo.boom", "open", {"n": "1"}),
        LineHit(3, "demo.boom", "open", {"n": "22"}),
    ]


@pytest.mark.parametrize("keyword", ['"two\\nlines"', '"crlf\\r"', '"nul\\u0000byte"'])
def test_a_signature_file_with_such_a_keyword_is_rejected(tmp_path: Path, keyword: str) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    text = (BUNDLED / "app" / "app.db-outage.toml").read_text(encoding="utf-8")
    text = text.replace('id = "app.db-outage"', 'id = "demo.thing"', 1)
    text = text.replace("keywords = [", f"keywords = [{keyword}, ", 1)
    (folder / "demo.thing.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SignatureError) as caught:
        load_signatures([tmp_path])
    assert "demo.thing.toml: detect.keywords[0]: must not contain a line break or a NUL" in (
        "\n".join(caught.value.errors)
    )
