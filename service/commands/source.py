"""`drainwatch source add|list|rotate|remove`: sources and their ingest tokens.

A token is printed once, when it is made, and stored only as a hash. `add` never replaces a
token (a drain still sending the old one would be refused); `rotate` does, on purpose.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

_NAME_HELP = "source name: letters, digits, '.', '_' or '-'"


def register(subparsers: Any) -> None:
    """Add the `source` subcommand."""
    parser = subparsers.add_parser("source", help="manage sources (named log streams)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="create a source and print its token once (refused if it has one)"
    )
    add.add_argument("name", help=_NAME_HELP)
    add.set_defaults(run=run_add)
    listing = actions.add_parser("list", help="the sources, their counters and tokens")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(run=run_list)
    rotate = actions.add_parser(
        "rotate", help="give a source a new token, printed once; the old one stops working"
    )
    rotate.add_argument("name", help=_NAME_HELP)
    rotate.set_defaults(run=run_rotate)
    remove = actions.add_parser(
        "remove", help="revoke a source's token; its incidents are kept, its drain is refused"
    )
    remove.add_argument("name", help=_NAME_HELP)
    remove.set_defaults(run=run_remove)


def run_add(args: argparse.Namespace) -> int:
    """Create the source, store its token hashed, print the token; refuse an existing one."""
    from service.db import migrated_engine, session_scope, utcnow
    from service.settings import Settings
    from service.sources import SourceExists, SourceNameError, add_source

    settings = Settings()
    try:
        with migrated_engine(settings.database_url) as engine, session_scope(engine) as session:
            token = add_source(session, args.name, now=utcnow())
    except SourceNameError as error:
        print(f"drainwatch: {error}")
        return 2
    except SourceExists as error:
        print(f"drainwatch: {error}; its token was left as it is.")
        print(f"drainwatch: to replace it, run: drainwatch source rotate {args.name}")
        return 2
    _print_token(token, args.name, settings.public_url)
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    """Give the source a new token and print it; the old token is refused from now on."""
    from service.db import migrated_engine, session_scope, utcnow
    from service.settings import Settings
    from service.sources import SourceMissing, rotate_token

    settings = Settings()
    try:
        with migrated_engine(settings.database_url) as engine, session_scope(engine) as session:
            token = rotate_token(session, args.name, now=utcnow())
    except SourceMissing as error:
        print(f"drainwatch: {error}; create it with: drainwatch source add {args.name}")
        return 1
    _print_token(token, args.name, settings.public_url)
    print("# the previous token is refused from now on: update every sender that used it")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Revoke the source's token; say what happens to its incidents and its drain."""
    from service.db import migrated_engine, session_scope
    from service.incidents.tallies import incident_count
    from service.settings import Settings
    from service.sources import SourceMissing, revoke_token

    settings = Settings()
    try:
        with migrated_engine(settings.database_url) as engine, session_scope(engine) as session:
            revoke_token(session, args.name)
            incidents = incident_count(session, source=args.name)
    except SourceMissing as error:
        print(f"drainwatch: {error}")
        return 1
    print(f"source {args.name!r}: its token is revoked; senders using it now get 401.")
    print(f"its {incidents} incident(s) and its counters are kept, and stay in the dashboard.")
    if settings.ingest_token:
        print("DRAINWATCH_INGEST_TOKEN is set: that token still opens every source name.")
    print(f"to take lines again: drainwatch source add {args.name}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print every source with its counters, last line time and whether it has a token."""
    from sqlmodel import Session

    from service.db import migrated_engine
    from service.incidents.queries import list_sources, rfc3339, source_json
    from service.settings import Settings

    settings = Settings()
    with migrated_engine(settings.database_url) as engine, Session(engine) as session:
        rows = []
        for source in list_sources(session):
            row = source_json(source)
            row["last_log_time"] = rfc3339(source.last_log_time)
            rows.append(row)
    if args.format == "json":
        print(json.dumps({"sources": rows}, indent=2))
        return 0
    if not rows:
        print("no sources yet: create one with: drainwatch source add NAME")
        return 0
    header = ("NAME", "CREATED", "RECEIVED", "PROCESSED", "LAST LINE (LOG TIME)", "TOKEN")
    table = [header] + [
        (
            row["name"],
            row["created_at"] or "-",
            str(row["lines_received"]),
            str(row["lines_processed"]),
            row["last_log_time"] or row["last_line_at"] or "never",
            "yes" if row["has_token"] else "no",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
    print("# counted once processed: lines still waiting in the spool are not in RECEIVED yet")
    return 0


def _print_token(token: str, name: str, public_url: str) -> None:
    base = public_url.rstrip("/")
    print(token)
    print("# stored only as a hash; send it as: Authorization: Bearer <token>, or in a drain URL")
    print(f"# {base.replace('://', '://drain:' + token + '@', 1)}/drains/{name}")
