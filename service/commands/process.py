"""`drainwatch process`: the processor alone, on this node's spool and database (what `serve`
starts as its child; run it yourself beside `drainwatch serve --processor none`, which migrates
the database first)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `process` subcommand."""
    parser = subparsers.add_parser(
        "process",
        help="run the processor alone on the spool (serve starts one as its child)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Process the spool until SIGTERM, then flush what is held and exit."""
    from service.logconfig import configure_logging
    from service.memory import Trimmer, tune_malloc
    from service.processing import run_processor
    from service.settings import Settings

    configure_logging(args.log_level)
    settings = Settings()
    tune_malloc(settings.malloc_arena_max)
    trimmer = Trimmer(settings.memory_trim_seconds)
    trimmer.start()
    try:
        return run_processor(settings)
    finally:
        trimmer.stop()
