"""`drainwatch source add NAME`: create a source and print its ingest token once."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `source` subcommand."""
    parser = subparsers.add_parser("source", help="manage sources (named log streams)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="create a source (or give it a new token) and print the token once"
    )
    add.add_argument("name", help="source name: letters, digits, '.', '_' or '-'")
    add.set_defaults(run=run_add)


def run_add(args: argparse.Namespace) -> int:
    """Create the source, store its token hashed, print the token."""
    from service.db import migrated_engine, session_scope, utcnow
    from service.settings import Settings
    from service.sources import SourceNameError, issue_token

    settings = Settings()
    try:
        with migrated_engine(settings.database_url) as engine, session_scope(engine) as session:
            token = issue_token(session, args.name, now=utcnow())
    except SourceNameError as error:
        print(f"drainwatch: {error}")
        return 2
    base = settings.public_url.rstrip("/")
    print(token)
    print("# stored only as a hash; send it as: Authorization: Bearer <token>, or in a drain URL")
    print(f"# {base.replace('://', '://drain:' + token + '@', 1)}/drains/{args.name}")
    return 0
