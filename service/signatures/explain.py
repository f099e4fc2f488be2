"""Why an event matched no signature: the signatures whose keywords occur in it, and for each the
step that turned it down (no regex matched, a veto matched, a level condition was not met).

Pure and slow on purpose: it compiles and runs every nearby regex, for `drainwatch patterns test`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import regex

from service.ingest.records import Event
from service.signatures.regexes import compile_pattern
from service.signatures.schema import Rule
from service.signatures.templates import TEMPLATE_SIGNATURE, is_error_level, refusal

MAX_NEAREST = 5
_TIMEOUT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Miss:
    """A signature whose keywords occur in an event, and why it produced no hit."""

    signature: str
    keywords: tuple[str, ...]
    reason: str


class _TimedOut(Exception):
    """A regex ran out of time; carries the key of the regex."""


def nearest_misses(rules: Iterable[Rule], event: Event, *, limit: int = MAX_NEAREST) -> list[Miss]:
    """Return the signatures whose keywords occur in the event and that did not match it.

    Most keywords present first, then the most specific signature; at most `limit`.
    """
    text = event.text
    found: list[tuple[int, int, Miss]] = []
    for rule in rules:
        present = tuple(keyword for keyword in rule.detection.keywords if keyword in text)
        if not present:
            # The error-template fallback also takes a level the header parser read.
            level = event.first.level
            if rule.id == TEMPLATE_SIGNATURE and is_error_level(level):
                why = refusal(event, rule.detection.none, matched=False)
                if why:
                    found.append(
                        (0, -rule.priority, Miss(rule.id, (), f"level {level}, but {why}"))
                    )
            continue
        reason = _reason(rule, event, text, present[0])
        if reason:
            found.append((-len(present), -rule.priority, Miss(rule.id, present, reason)))
    found.sort(key=lambda item: (item[0], item[1], item[2].signature))
    return [miss for _, _, miss in found[:limit]]


def _reason(rule: Rule, event: Event, text: str, keyword: str) -> str:
    """Return why the rule did not match, or "" when it does."""
    detection = rule.detection
    groups = (
        ("any", detection.any),
        ("start_any", detection.start_any),
        ("close_any", detection.close_any),
    )
    try:
        matched = next(
            (key for name, sources in groups if (key := _first(name, sources, text))), ""
        )
        if not matched:
            tried = "/".join(name for name, sources in groups if sources)
            return f"keyword {keyword!r} present, but no detect.{tried} regex matched"
        veto = _first("none", detection.none, text)
    except _TimedOut as timeout:
        return f"{timeout} timed out after {_TIMEOUT_SECONDS * 1000:g} ms"
    if veto:
        return f"{matched} matched, but {veto} vetoed it"
    if rule.id == TEMPLATE_SIGNATURE:
        why = refusal(event, detection.none, matched=True)
        return f"{matched} matched, but {why}" if why else ""
    return ""


def _first(name: str, sources: tuple[str, ...], text: str) -> str:
    """Return the key (`any[1]`) of the first regex that matches the text, or ""."""
    for index, source in enumerate(sources):
        key = f"detect.{name}[{index}]"
        try:
            pattern = compile_pattern(source)
            if pattern.search(text, timeout=_TIMEOUT_SECONDS) is not None:
                return key
        except TimeoutError:
            raise _TimedOut(key) from None
        except regex.error:
            continue
    return ""
