"""The matcher: compiled signatures that attribute each event to its most specific signature.

Built once from a rule set and never changed; a reload builds a new `Matcher` and swaps it in.
The only state it keeps is which signatures it disabled after a regex timeout, and why.
A literal prefilter (`prefilter.py`) picks the signatures whose keywords occur before any regex
runs; `scan_lines` runs it over a whole body at once and the regexes on candidate lines only.
A text that holds HTML entities or typographic quotes is also matched in its folded form
(`folding.py`), whose markers the prefilter finds with the keywords.
A traceback cut before its exception line is also looked up by its deepest frame (`frames.py`);
whatever such an event gives is an `inferred` hit, unless it matched the line that announced it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import regex

from service.ingest.records import Event, LogRecord
from service.ingest.tracebacks import DJANGO_TYPE, TRACEBACK, traceback_event
from service.outages.rules import CauseRule
from service.signatures.derive import derive_fields
from service.signatures.folding import FOLD_MARKERS, fold_text
from service.signatures.frames import FrameIndex
from service.signatures.model import Hit, Role
from service.signatures.prefilter import Implementation, build_prefilter
from service.signatures.regexes import compile_pattern, search_within
from service.signatures.schema import Rule

DEFAULT_TIMEOUT_SECONDS = 0.05
_FRAME_TEXT = 'File "'


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
    derive: tuple[str, ...]
    starting: tuple[_Check, ...] = ()


# What the prefilter found in a text: the signatures whose keywords it holds, and the fold
# marker; empty for most lines, which then need no matching at all.
Owners = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LineHit:
    """The winning hit of one line of a body: its 0-based index, signature id, role, fields."""

    line: int
    signature: str
    role: Role
    fields: Mapping[str, str]


class _Timeout(Exception):
    """A signature regex ran out of time; carries the key of the regex."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def event_from_text(text: str, *, source: str = "text") -> Event:
    """Return an event with one record per line of `text` (no header parsing).

    A traceback in the text is read as the assembler reads one: frames and final exception.
    """
    lines = text.splitlines() or [""]
    records = tuple(LogRecord(message=line, source=source, seq=i) for i, line in enumerate(lines))
    if TRACEBACK in text or _FRAME_TEXT in text or DJANGO_TYPE in text:
        return traceback_event(records)
    return Event(records=records)


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
        starting=checks("start_any", detection.start_any),
        vetoes=checks("none", detection.none),
        derive=detection.derive,
    )


class Matcher:
    """Matches events against a fixed set of signatures; the most specific signature wins."""

    __slots__ = (
        "_compiled",
        "_disabled",
        "_fold",
        "_frames",
        "_prefilter",
        "_timeout",
        "_timeouts",
        "outage_rules",
    )

    def __init__(
        self,
        signatures: Iterable[Rule],
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        prefilter: Implementation = "auto",
        outage_rules: Sequence[CauseRule] = (),
    ) -> None:
        """Compile the signatures; a timeout is per regex search, in seconds.

        `prefilter` chooses the keyword prefilter: `auto` (hyperscan when available),
        `hyperscan`, or `python` (the pure-Python fallback, same results). `outage_rules` are
        the cause rules loaded with the signatures: they travel with them, and a reload swaps
        both at once.
        """
        self.outage_rules = tuple(outage_rules)
        ordered = sorted(signatures, key=lambda rule: (-rule.priority, rule.id))
        self._compiled = tuple(_compile(rule) for rule in ordered)
        self._timeout = timeout
        self._disabled: dict[str, str] = {}
        self._timeouts: Counter[str] = Counter()
        # One keyword group per signature, in priority order: the prefilter's owners index
        # `_compiled` directly and come back ascending, i.e. most specific first. The fold
        # markers come last, so a text to fold is told by its last owner.
        self._fold = len(self._compiled)
        self._prefilter = build_prefilter(
            [*(compiled.keywords for compiled in self._compiled), FOLD_MARKERS],
            implementation=prefilter,
        )
        self._frames = FrameIndex(
            (index, frame)
            for index, compiled in enumerate(self._compiled)
            for frame in compiled.rule.detection.frames
        )

    @property
    def signatures(self) -> tuple[Rule, ...]:
        """Return the signatures, most specific first."""
        return tuple(compiled.rule for compiled in self._compiled)

    @property
    def prefilter(self) -> str:
        """Return the name of the keyword prefilter in use: `hyperscan` or `python`."""
        return self._prefilter.name

    @property
    def disabled(self) -> Mapping[str, str]:
        """Return the signatures disabled after a regex timeout, with the reason."""
        # A snapshot: the processor thread may disable a signature while a page reads this.
        return MappingProxyType(dict(self._disabled))

    @property
    def timeouts(self) -> Mapping[str, int]:
        """Return how many regex timeouts each signature has caused."""
        return MappingProxyType(dict(self._timeouts))

    def match(self, event: Event, *, sifted: tuple[Owners, Owners] | None = None) -> Hit | None:
        """Return the hit of the most specific signature that matches the event, or None.

        The messages (and an exception the log only named) are tried first, then the lines as
        the app wrote them (header included); each also in its folded form when it has one.
        `sifted`: what `sift` found in those two texts, so the prefilter need not run again.
        """
        text = event.matched_text
        owners = sifted[0] if sifted is not None else self._prefilter.owners(text)
        best = self._decide(event, text, owners)
        if best is None and (written := event.written_text):
            owners = sifted[1] if sifted is not None else self._prefilter.owners(written)
            best = self._decide(event, written, owners)
        if not event.truncated:
            return best[0] if best is not None else None
        found = [best] if best is not None else []
        inferred = self._infer(event, text)
        if inferred is not None:
            found.append(inferred)
        ranked = self._weigh_truncated(found, text)
        return ranked[0] if ranked else None

    def sift(self, lines: Sequence[str]) -> list[Owners]:
        """Return what the prefilter finds in each line, in one pass over them all (a line
        holds no line feed); give it back to `match` for the events of those lines."""
        if any("\n" in line for line in lines):
            raise ValueError("a line to sift holds a line feed")
        found: list[Owners] = [()] * len(lines)
        for candidate in self._prefilter.scan("\n".join(lines)):
            found[candidate.line] = candidate.owners
        return found

    def has_candidates(self, text: str) -> bool:
        """Tell whether any enabled signature's keyword occurs in `text` or its folded form
        (the prefilter alone)."""
        return any(self._candidates(view) for view in self._views(text))

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
        text = event.matched_text
        found = self._all_hits(event, text)
        if not found and (written := event.written_text):
            found = self._all_hits(event, written)
        if event.truncated:
            inferred = self._infer(event, text)
            matched = {hit.signature.id for hit, _ in found}
            if inferred is not None and inferred[0].signature.id not in matched:
                found.append(inferred)
            return self._weigh_truncated(found, text)
        found.sort(key=lambda item: (-item[0].signature.priority, item[1], item[0].signature.id))
        return [hit for hit, _ in found]

    def matches_for(self, text: str) -> list[Hit]:
        """Return a hit for every signature that matches `text` as one event, the winner first."""
        return self.hits_for(event_from_text(text))

    def scan_lines(self, text: str) -> list[LineHit]:
        """Return the winning hit of every line of a body, each line matched as its own event.

        The prefilter scans the whole body once; regexes run only on lines that hold a keyword
        of theirs. The result equals `match` on each line as a one-record event. Lines are
        split at line feeds; a carriage return before one is not part of the line.
        """
        hits: list[LineHit] = []
        for candidate in self._prefilter.scan(text):
            line = candidate.text
            event = Event(records=(LogRecord(message=line, source="text", seq=candidate.line),))
            best = self._decide(event, line, candidate.owners)
            if best is not None:
                hit = best[0]
                hits.append(LineHit(candidate.line, hit.signature.id, hit.role, hit.fields))
        return hits

    def _decide(self, event: Event, text: str, owners: tuple[int, ...]) -> tuple[Hit, int] | None:
        """Return the best hit in `text` (the prefilter gave `owners`) or in its folded form.

        The folded form wins only with a more specific signature: what matched as written
        stays as it was.
        """
        best = self._best(self._usable(owners), event, text)
        if owners and owners[-1] == self._fold and (folded := fold_text(text)) != text:
            other = self._best(self._candidates(folded), event, folded)
            if other is not None and (
                best is None or other[0].signature.priority > best[0].signature.priority
            ):
                return other
        return best

    def _views(self, text: str) -> tuple[str, ...]:
        """Return `text`, and its folded form when the prefilter found a fold marker in it."""
        owners = self._prefilter.owners(text)
        if owners and owners[-1] == self._fold and (folded := fold_text(text)) != text:
            return text, folded
        return (text,)

    def _all_hits(self, event: Event, text: str) -> list[tuple[Hit, int]]:
        """Return a hit of every signature that matches `text` or, failing that, its folded form."""
        found: dict[str, tuple[Hit, int]] = {}
        for view in self._views(text):
            for compiled in self._candidates(view):
                if compiled.rule.id not in found:
                    tried = self._try_at(compiled, event, view)
                    if tried is not None:
                        found[compiled.rule.id] = tried
        return list(found.values())

    def _best(
        self, candidates: Iterable[_Compiled], event: Event, text: str
    ) -> tuple[Hit, int] | None:
        # The highest priority wins. Among equals, the match that ends first: in a chained
        # traceback Python prints the root cause first, and the root cause should decide.
        best: tuple[Hit, int] | None = None
        for compiled in candidates:
            if best is not None and compiled.rule.priority < best[0].signature.priority:
                break
            tried = self._try_at(compiled, event, text)
            if tried is not None and (best is None or tried[1] < best[1]):
                best = tried
        return best

    def _infer(self, event: Event, text: str) -> tuple[Hit, int] | None:
        """Return the hit the deepest frame names, ranked after any regex match of its priority."""
        found = self._frames.owner(event.frames) if self._frames else None
        if found is None:
            return None
        index, frame = found
        compiled = self._compiled[index]
        if compiled.rule.id in self._disabled:
            return None
        try:
            if self._first(compiled.vetoes, text) is not None:
                return None
        except _Timeout as timeout:
            self._disable(compiled.rule.id, timeout.key, len(text))
            return None
        fields = dict(frame.fields)
        if compiled.derive:
            fields.update(derive_fields(compiled.derive, event, text, len(text)))
        hit = Hit(compiled.rule, event, dict(sorted(fields.items())), confidence="inferred")
        return hit, len(text) + 1

    @staticmethod
    def _weigh_truncated(found: list[tuple[Hit, int]], text: str) -> list[Hit]:
        """Rank the hits of a traceback without its exception line, and mark how sure each is.

        A match in the line that announced the traceback is what the log said; one inside the
        traceback read the failure from its frames or source lines, as an inference does.
        """
        starts = [at for at in (text.find(TRACEBACK), text.find(_FRAME_TEXT)) if at >= 0]
        body = min(starts, default=0)
        found.sort(key=lambda item: (-item[0].signature.priority, item[1], item[0].signature.id))
        return [
            hit
            if end <= body or hit.confidence == "inferred"
            else replace(hit, confidence="inferred")
            for hit, end in found
        ]

    def _candidates(self, text: str) -> list[_Compiled]:
        # Per event, on 200k corpus lines and 95 keywords: hyperscan 1.75 us, `in` over the
        # minimal keywords 8.5 us, one stdlib `re` alternation 7.7 us.
        return self._usable(self._prefilter.owners(text))

    def _usable(self, owners: tuple[int, ...]) -> list[_Compiled]:
        """Return the enabled signatures among the prefilter's owners, fold markers left out."""
        fold = self._fold
        return [
            compiled
            for index in owners
            if index != fold and (compiled := self._compiled[index]).rule.id not in self._disabled
        ]

    def _try_at(self, compiled: _Compiled, event: Event, text: str) -> tuple[Hit, int] | None:
        try:
            found = self._search(compiled, text)
            if found is None or self._first(compiled.vetoes, text) is not None:
                return None
        except _Timeout as timeout:
            self._disable(compiled.rule.id, timeout.key, len(text))
            return None
        role, match = found
        captured = {name: value for name, value in match.groupdict().items() if value is not None}
        if compiled.derive:
            position = max(match.end() - 1, match.start())
            captured.update(derive_fields(compiled.derive, event, text, position))
        fields = dict(sorted(captured.items()))
        return Hit(signature=compiled.rule, event=event, fields=fields, role=role), match.end()

    def _search(self, compiled: _Compiled, text: str) -> tuple[Role, regex.Match[str]] | None:
        match = self._first(compiled.opening, text)
        if match is not None:
            return "open", match
        match = self._first(compiled.starting, text)
        if match is not None:
            return "start", match
        match = self._first(compiled.closing, text)
        if match is not None:
            return "close", match
        return None

    def _first(self, checks: tuple[_Check, ...], text: str) -> regex.Match[str] | None:
        for check in checks:
            try:
                match = search_within(check.pattern, text, self._timeout)
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
