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

    from service.db import create_db_engine, upgrade_schema
    from service.models import Incident
    from service.reports.build import build_report
    from service.reports.render import render_markdown, report_environment
    from service.runtime import SignatureBook
    from service.settings import Settings

    settings = Settings()
    engine = create_db_engine(settings.database_url)
    upgrade_schema(engine)
    with Session(engine) as session:
        incident = session.get(Incident, args.incident_id)
        if incident is None:
            print(f"drainwatch: no incident #{args.incident_id}", file=sys.stderr)
            return 1
        signatures = {s.id: s for s in SignatureBook(settings).signatures}
        report = build_report(session, incident, signatures, public_url=settings.public_url)
        text = render_markdown(report, report_environment(settings.templates_dir))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
