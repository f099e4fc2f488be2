"""`drainwatch patterns check|test`: validate the signature files, and try them on log text."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.ingest.records import Event, LogRecord
from service.settings import Settings
from service.signatures.engine import Matcher
from service.signatures.explain import Miss, nearest_misses
from service.signatures.loader import (
    check_directories,
    load_signatures,
    load_usable_signatures,
)
from service.signatures.model import Hit
from service.signatures.templates import (
    TEMPLATE_SIGNATURE,
    TemplateMiner,
    error_template,
    refusal,
)

_SOURCE = "patterns-test"


def register(subparsers: Any) -> None:
    """Add the `patterns` command with its `check` and `test` subcommands."""
    parser = subparsers.add_parser(
        "patterns", help="check signature files, or try them on log text"
    )
    commands = parser.add_subparsers(dest="patterns_command", required=True, metavar="SUBCOMMAND")

    check = commands.add_parser(
        "check", help="validate every signature file and run its embedded examples"
    )
    check.add_argument(
        "directory", nargs="?", type=Path, metavar="DIR", help="default: the configured patterns"
    )
    check.set_defaults(run=run_check)

    test = commands.add_parser("test", help="show which signatures match some log text")
    given = test.add_mutually_exclusive_group()
    given.add_argument("--file", metavar="F", help="read the log text from F ('-' is stdin)")
    given.add_argument("line", nargs="?", metavar="LINE", help="one log line ('-' is stdin)")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.add_argument(
        "--patterns",
        type=Path,
        action="append",
        metavar="DIR",
        help="signature directory to use instead of the configured ones (repeatable)",
    )
    test.set_defaults(run=run_test)


def run_check(args: argparse.Namespace) -> int:
    """Print one line per problem and return 1, or print the totals and return 0."""
    dirs = [args.directory] if args.directory is not None else _configured_dirs()
    problems = check_directories(dirs)
    if problems:
        for problem in problems:
            print(_printable(problem))
        return 1
    library = load_signatures(dirs)
    print(f"ok: {len(library)} signatures, {library.example_count} examples")
    return 0


def run_test(args: argparse.Namespace) -> int:
    """Print the signatures that match the given text, the winner of each event first."""
    try:
        text = _read_text(args.file, args.line)
    except OSError as error:
        print(f"drainwatch: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    settings = Settings()
    library, problems = load_usable_signatures(args.patterns or list(settings.pattern_dirs))
    for problem in problems:
        print(f"skipped: {_printable(problem)}", file=sys.stderr)
    matcher = library.matcher()
    lines = text.splitlines()
    events = _events(text, gap_seconds=settings.traceback_gap_seconds)
    miner = TemplateMiner()
    results = [(event, _hits(matcher, miner, event)) for event in events]
    matched = [(event, hits) for event, hits in results if hits]
    explained = [
        _Unmatched(event, _header(event, lines), nearest_misses(matcher.signatures, event))
        for event, hits in results
        if not hits
    ]
    # In a file, only the lines some signature came close to are worth explaining.
    explained = [u for u in explained if u.nearest or len(results) == 1]
    if args.format == "json":
        payload = {
            "events": [_event_json(e, h) for e, h in matched],
            "unmatched": [u.json() for u in explained],
        }
        print(json.dumps(payload, indent=2))
    elif not matched and len(results) <= 1:
        print("no signature matched")
        for unmatched in explained:
            unmatched.print()
    else:
        _print_text(matched, explained, several=len(results) > 1)
    return 0


class _Unmatched:
    """An event no signature matched: its parsed header, its message, the nearest signatures."""

    def __init__(self, event: Event, header: str, nearest: list[Miss]) -> None:
        self.event = event
        self.header = header
        self.nearest = nearest

    def json(self) -> dict[str, object]:
        first, last = _lines(self.event)
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

    def print(self) -> None:
        record = self.event.first
        parsed = {
            "time": record.time.isoformat() if record.time else "",
            "level": record.level,
            "instance": record.instance,
            "stream": record.stream,
        }
        print(f"  header: {_printable(self.header) if self.header else '(none)'}")
        print("  parsed: " + " ".join(f"{k}={_printable(v)}" for k, v in parsed.items() if v))
        print(f"  message: {_printable(self.event.text)}")
        if not self.nearest:
            print("  nearest: no signature's keywords occur in it")
            return
        print("  nearest:")
        for miss in self.nearest:
            print(f"    {miss.signature}: {_printable(miss.reason)}")


def _hits(matcher: Matcher, miner: TemplateMiner, event: Event) -> list[Hit]:
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


def _header(event: Event, lines: list[str]) -> str:
    """Return the text the header parser took off the event's first line."""
    record = event.first
    if record.seq >= len(lines):
        return ""
    raw = lines[record.seq]
    message = record.message
    at = raw.rfind(message) if message else -1
    return raw[:at].strip() if at > 0 else ""


def _configured_dirs() -> list[Path]:
    return list(Settings().pattern_dirs)


def _read_text(file: str | None, line: str | None) -> str:
    if file is None and line is not None and line != "-":
        return line
    if file is None or file == "-":
        return sys.stdin.read()
    return Path(file).read_text(encoding="utf-8", errors="replace")


def _events(text: str, *, gap_seconds: float) -> list[Event]:
    """Parse and assemble the text the way ingest does; seq is the 0-based line number."""
    records: list[LogRecord] = []
    for number, line in enumerate(text.splitlines()):
        records.extend(parse_text(line, source=_SOURCE, start_seq=number))
    return assemble(records, gap_seconds=gap_seconds)


def _lines(event: Event) -> tuple[int, int]:
    return event.records[0].seq + 1, event.records[-1].seq + 1


def _event_json(event: Event, hits: list[Hit]) -> dict[str, object]:
    first, last = _lines(event)
    return {
        "first_line": first,
        "last_line": last,
        "hits": [
            {
                "signature": hit.signature.id,
                "title": hit.signature.title,
                "severity": hit.signature.severity,
                "priority": hit.signature.priority,
                "role": hit.role,
                "fields": dict(hit.fields),
                "winner": index == 0,
            }
            for index, hit in enumerate(hits)
        ],
    }


def _print_text(
    matched: list[tuple[Event, list[Hit]]], explained: list[_Unmatched], *, several: bool
) -> None:
    shown: list[tuple[int, Event, list[Hit] | _Unmatched]] = [
        (_lines(event)[0], event, hits) for event, hits in matched
    ]
    shown += [(_lines(u.event)[0], u.event, u) for u in explained]
    shown.sort(key=lambda item: item[0])
    for number, (_, event, result) in enumerate(shown):
        if several:
            first, last = _lines(event)
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            print(("\n" if number else "") + f"{span}:")
        if isinstance(result, _Unmatched):
            print("no signature matched")
            result.print()
            continue
        winner = result[0].signature.id
        for index, hit in enumerate(result):
            signature = hit.signature
            print(f"{signature.id}  ({signature.severity})  {_printable(signature.title)}")
            if hit.fields:
                pairs = " ".join(f"{name}={value}" for name, value in hit.fields.items())
                print(f"  fields: {_printable(pairs)}")
            if hit.role == "close":
                print("  role: close (resolves the matching open incident)")
            if index:
                print(f"  overruled by {winner}")


def _printable(text: str) -> str:
    """Escape control characters so log text cannot drive the terminal."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
