"""`drainwatch report INCIDENT_ID [--out FILE]`: the markdown outage report of a stored incident."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser("report", help="print the markdown outage report of an incident")
    parser.add_argument("incident_id", type=int, metavar="INCIDENT_ID")
    parser.add_argument("--out", type=Path, help="write the report to this file instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Render the report from the configured database."""
    from sqlmodel import Session

    from service.db import migrated_engine
    from service.models import Incident
    from service.reports.render import incident_markdown, report_environment
    from service.runtime import SignatureBook
    from service.settings import Settings

    settings = Settings()
    with migrated_engine(settings.database_url) as engine, Session(engine) as session:
        incident = session.get(Incident, args.incident_id)
        if incident is None:
            print(f"drainwatch: no incident #{args.incident_id}", file=sys.stderr)
            return 1
        text = incident_markdown(
            session,
            incident,
            SignatureBook(settings).by_id,
            public_url=settings.public_url,
            env=report_environment(settings.templates_dir),
        )
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
