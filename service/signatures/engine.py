"""The matcher: compiled signatures that attribute each event to its most specific signature.

Built once from a rule set and never changed; a reload builds a new `Matcher` and swaps it in.
The only state it keeps is which signatures it disabled after a regex timeout, and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import regex

from service.ingest.records import Event, LogRecord
from service.signatures.model import Hit, Role
from service.signatures.regexes import compile_pattern
from service.signatures.schema import Rule

DEFAULT_TIMEOUT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _Check:
    """One compiled regex and the key it came from, for disable reasons."""

    key: str
    pattern: regex.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule with its regexes compiled, ready to try against event text."""

    rule: Rule
    keywords: tuple[str, ...]
    opening: tuple[_Check, ...]
    closing: tuple[_Check, ...]
    vetoes: tuple[_Check, ...]


class _Timeout(Exception):
    """A signature regex ran out of time; carries the key of the regex."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def event_from_text(text: str, *, source: str = "text") -> Event:
    """Return an event with one record per line of `text` (no header parsing)."""
    lines = text.splitlines() or [""]
    return Event(
        records=tuple(LogRecord(message=line, source=source, seq=i) for i, line in enumerate(lines))
    )


def _compile(rule: Rule) -> _Compiled:
    def checks(key: str, sources: Iterable[str]) -> tuple[_Check, ...]:
        return tuple(
            _Check(f"detect.{key}[{index}]", compile_pattern(source))
            for index, source in enumerate(sources)
        )

    detection = rule.detection
    return _Compiled(
        rule=rule,
        keywords=detection.keywords,
        opening=checks("any", detection.any),
        closing=checks("close_any", detection.close_any),
        vetoes=checks("none", detection.none),
    )


def _minimal_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """Return the keywords that do not contain another keyword, shortest first."""
    kept: list[str] = []
    for keyword in sorted(set(keywords), key=lambda k: (len(k), k)):
        if not any(shorter in keyword for shorter in kept):
            kept.append(keyword)
    return tuple(kept)


class Matcher:
    """Matches events against a fixed set of signatures; the most specific signature wins."""

    __slots__ = ("_compiled", "_disabled", "_reject", "_timeout", "_timeouts")

    def __init__(
        self, signatures: Iterable[Rule], *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        """Compile the signatures; a timeout is per regex search, in seconds."""
        ordered = sorted(signatures, key=lambda rule: (-rule.priority, rule.id))
        self._compiled = tuple(_compile(rule) for rule in ordered)
        self._timeout = timeout
        self._disabled: dict[str, str] = {}
        self._timeouts: Counter[str] = Counter()
        # Measured on 100k lines, 99.5% benign: plain `in` checks and a stdlib `re` alternation
        # are close (17 keywords: 177 vs 115 ms; 53 keywords: 298 vs 380 ms), a `regex`
        # alternation is 3-6x slower. `in` scales best and cannot backtrack. A keyword that
        # contains another adds nothing to this first test, so only the minimal set is scanned.
        self._reject = _minimal_keywords(k for c in self._compiled for k in c.keywords)

    @property
    def signatures(self) -> tuple[Rule, ...]:
        """Return the signatures, most specific first."""
        return tuple(compiled.rule for compiled in self._compiled)

    @property
    def disabled(self) -> Mapping[str, str]:
        """Return the signatures disabled after a regex timeout, with the reason."""
        # A snapshot: the processor thread may disable a signature while a page reads this.
        return MappingProxyType(dict(self._disabled))

    @property
    def timeouts(self) -> Mapping[str, int]:
        """Return how many regex timeouts each signature has caused."""
        return MappingProxyType(dict(self._timeouts))

    def match(self, event: Event) -> Hit | None:
        """Return the hit of the most specific signature that matches the event, or None."""
        text = event.text
        for compiled in self._candidates(text):
            hit = self._try(compiled, event, text)
            if hit is not None:
                return hit
        return None

    def match_all(self, events: Iterable[Event]) -> list[Hit]:
        """Return the winning hit of every event that matches, in event order."""
        hits: list[Hit] = []
        for event in events:
            hit = self.match(event)
            if hit is not None:
                hits.append(hit)
        return hits

    def hits_for(self, event: Event) -> list[Hit]:
        """Return a hit for every signature that matches the event, the winner first."""
        text = event.text
        hits: list[Hit] = []
        for compiled in self._candidates(text):
            hit = self._try(compiled, event, text)
            if hit is not None:
                hits.append(hit)
        return hits

    def matches_for(self, text: str) -> list[Hit]:
        """Return a hit for every signature that matches `text` as one event, the winner first."""
        return self.hits_for(event_from_text(text))

    def _candidates(self, text: str) -> list[_Compiled]:
        if not any(keyword in text for keyword in self._reject):
            return []
        return [
            compiled
            for compiled in self._compiled
            if compiled.rule.id not in self._disabled
            and any(keyword in text for keyword in compiled.keywords)
        ]

    def _try(self, compiled: _Compiled, event: Event, text: str) -> Hit | None:
        try:
            found = self._search(compiled, text)
            if found is None or self._first(compiled.vetoes, text) is not None:
                return None
        except _Timeout as timeout:
            self._disable(compiled.rule.id, timeout.key, len(text))
            return None
        role, match = found
        fields = {
            name: value for name, value in sorted(match.groupdict().items()) if value is not None
        }
        return Hit(signature=compiled.rule, event=event, fields=fields, role=role)

    def _search(self, compiled: _Compiled, text: str) -> tuple[Role, regex.Match[str]] | None:
        match = self._first(compiled.opening, text)
        if match is not None:
            return "open", match
        match = self._first(compiled.closing, text)
        if match is not None:
            return "close", match
        return None

    def _first(self, checks: tuple[_Check, ...], text: str) -> regex.Match[str] | None:
        for check in checks:
            try:
                match = check.pattern.search(text, timeout=self._timeout)
            except TimeoutError:
                raise _Timeout(check.key) from None
            if match is not None:
                return match
        return None

    def _disable(self, ident: str, key: str, length: int) -> None:
        self._timeouts[ident] += 1
        self._disabled[ident] = (
            f"{key} took over {self._timeout * 1000:g} ms on a {length}-character event; "
            "signature disabled until the next reload"
        )
