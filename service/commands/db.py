"""`drainwatch db upgrade`: apply the schema migrations (serve does it at start-up too)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `db` subcommand."""
    parser = subparsers.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply every migration the database lacks")
    upgrade.set_defaults(run=run_upgrade)


def run_upgrade(_args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema."""
    from service.db import migrated_engine
    from service.settings import Settings

    with migrated_engine(Settings().database_url):
        pass
    print("database schema is up to date")
    return 0
