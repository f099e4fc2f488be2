"""`drainwatch patterns check|test`: validate the signature files, and try them on log text."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.ingest.records import Event, LogRecord
from service.settings import Settings
from service.signatures.loader import (
    check_directories,
    load_signatures,
    load_usable_signatures,
)
from service.signatures.model import Hit

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
    events = _events(text, gap_seconds=settings.traceback_gap_seconds)
    results = [(event, matcher.hits_for(event)) for event in events]
    matched = [(event, hits) for event, hits in results if hits]
    if args.format == "json":
        print(json.dumps({"events": [_event_json(e, h) for e, h in matched]}, indent=2))
    elif not matched:
        print("no signature matched")
    else:
        _print_text(matched, several=len(results) > 1)
    return 0


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


def _print_text(matched: list[tuple[Event, list[Hit]]], *, several: bool) -> None:
    for number, (event, hits) in enumerate(matched):
        if several:
            first, last = _lines(event)
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            print(("\n" if number else "") + f"{span}:")
        winner = hits[0].signature.id
        for index, hit in enumerate(hits):
            signature = hit.signature
            print(f"{signature.id}  ({signature.severity})  {signature.title}")
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
