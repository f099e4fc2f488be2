"""The `drainwatch` command line: builds the parser from the modules in `service.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from service import __version__
from service.commands import (
    db,
    incident,
    patterns,
    process,
    pull,
    report,
    scan,
    serve,
    source,
    user,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="drainwatch",
        description="Log-mining incident diagnostics: log drains in, outage reports out.",
    )
    parser.add_argument("--version", action="version", version=f"drainwatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, process, scan, patterns, source, user, report, incident, db, pull):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return status
