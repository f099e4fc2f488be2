"""`drainwatch patterns check|test`: validate the signature files, and try them on log text."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from service.ingest.records import Event
from service.settings import Settings
from service.signatures.loader import (
    check_directories,
    load_signatures,
    load_usable_signatures,
)
from service.signatures.model import Hit
from service.signatures.tryout import Trial, Unmatched, line_span, spelled_out, try_text


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
    trial = try_text(library.matcher(), text, gap_seconds=settings.traceback_gap_seconds)
    if args.format == "json":
        payload = {
            "events": [_event_json(t.event, t.hits) for t in trial.matched],
            "unmatched": [u.json() for u in trial.explained],
        }
        print(json.dumps(payload, indent=2))
    elif not trial.matched and not trial.several:
        print("no signature matched")
        for unmatched in trial.explained:
            _print_unmatched(unmatched)
    else:
        _print_text(trial)
    return 0


def _print_unmatched(unmatched: Unmatched) -> None:
    print(f"  header: {_printable(unmatched.header) if unmatched.header else '(none)'}")
    parsed = unmatched.parsed
    print("  parsed: " + " ".join(f"{k}={_printable(v)}" for k, v in parsed.items()))
    print(f"  message: {_printable(unmatched.event.text)}")
    if not unmatched.nearest:
        print("  nearest: no signature's keywords occur in it")
        return
    print("  nearest:")
    for miss in unmatched.nearest:
        print(f"    {miss.signature}: {_printable(miss.reason)}")


def _configured_dirs() -> list[Path]:
    return list(Settings().pattern_dirs)


def _read_text(file: str | None, line: str | None) -> str:
    if file is None and line is not None and line != "-":
        return line
    if file is None or file == "-":
        return sys.stdin.read()
    return Path(file).read_text(encoding="utf-8", errors="replace")


def _event_json(event: Event, hits: list[Hit]) -> dict[str, object]:
    first, last = line_span(event)
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


def _print_text(trial: Trial) -> None:
    for number, tried in enumerate(trial.shown):
        if trial.several:
            first, last = tried.lines
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            print(("\n" if number else "") + f"{span}:")
        if tried.unmatched is not None:
            print("no signature matched")
            _print_unmatched(tried.unmatched)
            continue
        winner = tried.hits[0].signature.id
        for index, hit in enumerate(tried.hits):
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
    return spelled_out(text)
