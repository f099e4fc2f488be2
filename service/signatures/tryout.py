"""Trying the signature library on pasted log text: which signatures match each event, and for
an event none matches, what was parsed and which signatures came close.

`drainwatch patterns test` prints a `Trial`; the `/patterns` playground renders the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.ingest.records import Event, LogRecord
from service.signatures.engine import Matcher
from service.signatures.explain import Miss, nearest_misses
from service.signatures.model import Hit
from service.signatures.templates import (
    TEMPLATE_SIGNATURE,
    TemplateMiner,
    error_template,
    refusal,
)

SOURCE = "patterns-test"


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An event no signature matched: its parsed header, its message, the nearest signatures."""

    event: Event
    header: str
    nearest: list[Miss]

    @property
    def parsed(self) -> dict[str, str]:
        """Return what the header parser read off the first line, by field (empty left out)."""
        record = self.event.first
        parsed = {
            "time": record.time.isoformat() if record.time else "",
            "level": record.level,
            "instance": record.instance,
            "stream": record.stream,
        }
        return {name: value for name, value in parsed.items() if value}

    def json(self) -> dict[str, object]:
        """Return the JSON form `patterns test --format json` prints."""
        first, last = line_span(self.event)
        record = self.event.first
        return {
            "first_line": first,
            "last_line": last,
            "header": {
                "text": self.header,
                "time": record.time.isoformat() if record.time else None,
                "level": record.level,
                "instance": record.instance,
                "stream": record.stream,
            },
            "message": self.event.text,
            "nearest": [
                {"signature": m.signature, "keywords": list(m.keywords), "reason": m.reason}
                for m in self.nearest
            ],
        }


@dataclass(frozen=True, slots=True)
class Tried:
    """One event worth showing: its hits (the winner first), or why nothing matched."""

    event: Event
    hits: list[Hit]
    unmatched: Unmatched | None

    @property
    def lines(self) -> tuple[int, int]:
        """Return the 1-based first and last line of the event."""
        return line_span(self.event)


@dataclass(frozen=True, slots=True)
class Trial:
    """What the library made of some text: the events worth showing, in line order."""

    shown: list[Tried]
    events: int

    @property
    def several(self) -> bool:
        """Return True when the text held more than one event (each is shown with its lines)."""
        return self.events > 1

    @property
    def matched(self) -> list[Tried]:
        """Return the events some signature matched."""
        return [tried for tried in self.shown if tried.hits]

    @property
    def explained(self) -> list[Unmatched]:
        """Return the unmatched events that are explained."""
        return [tried.unmatched for tried in self.shown if tried.unmatched is not None]


def try_text(matcher: Matcher, text: str, *, gap_seconds: float) -> Trial:
    """Run the text through the matcher as intake does, and explain what did not match."""
    lines = text.splitlines()
    events = parse_events(text, gap_seconds=gap_seconds)
    miner = TemplateMiner()
    shown: list[Tried] = []
    for event in events:
        hits = event_hits(matcher, miner, event)
        if hits:
            shown.append(Tried(event, hits, None))
            continue
        nearest = nearest_misses(matcher.signatures, event)
        # In a file, only the lines some signature came close to are worth explaining.
        if nearest or len(events) == 1:
            shown.append(Tried(event, [], Unmatched(event, _header(event, lines), nearest)))
    shown.sort(key=lambda tried: tried.lines[0])
    return Trial(shown=shown, events=len(events))


def event_hits(matcher: Matcher, miner: TemplateMiner, event: Event) -> list[Hit]:
    """Return the event's hits as intake sees them: with the error-template fallback applied."""
    hits = matcher.hits_for(event)
    found = [hit for hit in hits if hit.signature.id == TEMPLATE_SIGNATURE]
    hits = [hit for hit in hits if hit.signature.id != TEMPLATE_SIGNATURE]
    rule = next((r for r in matcher.signatures if r.id == TEMPLATE_SIGNATURE), None)
    if rule is None or (hits and not found):
        return hits
    if refusal(event, rule.detection.none, matched=bool(found)):
        return hits
    template = miner.learn(event.source, error_template(event.first.message)).template
    if not template:
        return hits
    fields = {"template": template}
    return [*hits, Hit(signature=replace(rule, title=template), event=event, fields=fields)]


def parse_events(text: str, *, gap_seconds: float) -> list[Event]:
    """Parse and assemble the text the way ingest does; seq is the 0-based line number."""
    records: list[LogRecord] = []
    for number, line in enumerate(text.splitlines()):
        records.extend(parse_text(line, source=SOURCE, start_seq=number))
    return assemble(records, gap_seconds=gap_seconds)


def line_span(event: Event) -> tuple[int, int]:
    """Return the 1-based first and last line of an event."""
    return event.records[0].seq + 1, event.records[-1].seq + 1


def spelled_out(text: str, keep: str = "") -> str:
    """Return text with every control, bidi and zero-width character spelled out as an escape
    (`\\x1b`, `\\u202e`), so log text can drive neither a terminal nor a page's layout; the
    characters in `keep` (a page keeps newlines) stay as they are."""
    return "".join(
        char
        if char.isprintable() or char in keep
        else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _header(event: Event, lines: list[str]) -> str:
    """Return the text the header parser took off the event's first line."""
    record = event.first
    if record.seq >= len(lines):
        return ""
    raw = lines[record.seq]
    message = record.message
    at = raw.rfind(message) if message else -1
    return raw[:at].strip() if at > 0 else ""
