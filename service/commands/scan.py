"""`drainwatch scan PATH...`: offline diagnosis of log files, no server, no database left behind."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `scan` subcommand."""
    parser = subparsers.add_parser(
        "scan", help="diagnose log files offline and print the incidents"
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="log files; '-' is stdin; .gz is read transparently",
    )
    parser.add_argument("--source", help="source name for every line (default: the file name)")
    parser.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    parser.add_argument(
        "--out", type=Path, help="write one markdown outage report per outage into this directory"
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="keep the incidents in this database (default: in memory, nothing left behind)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Scan, then print the incidents in the chosen format."""
    from service.db import migrated_engine
    from service.errors import InputError

    try:
        with migrated_engine(args.database or "sqlite://") as engine:
            return _scan_and_print(args, engine)
    except InputError as error:
        print(f"drainwatch: cannot read {error}", file=sys.stderr)
        return 2


def _scan_and_print(args: argparse.Namespace, engine: Any) -> int:
    from sqlmodel import Session, col, select

    from service.commands.progress import ProgressBar
    from service.incidents.impact import probes_from
    from service.incidents.queries import incident_json
    from service.models import VISIBLE_STATUSES, Incident
    from service.outages.queries import list_outages, outage_json
    from service.reports.render import outage_markdown, report_environment
    from service.runtime import SignatureBook
    from service.scan import OFFLINE, ScanInput, scan_inputs, source_name_for
    from service.settings import Settings

    settings = Settings()
    book = SignatureBook(settings)
    inputs = [ScanInput(p, args.source or source_name_for(p)) for p in args.paths]
    # A bar on a terminal only: piped or redirected, stderr stays what it was (empty).
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        lines = scan_inputs(
            engine,
            book.matcher,
            inputs,
            now=OFFLINE,
            gap_seconds=settings.traceback_gap_seconds,
            probes=probes_from(settings),
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    reports: dict[int | None, str] = {}
    with Session(engine) as session:
        visible = col(Incident.status).in_(VISIBLE_STATUSES)
        statement = select(Incident).where(visible).order_by(col(Incident.id))
        incidents = list(session.exec(statement).all())
        outages = list(reversed(list_outages(session)))
        if args.out or args.format == "markdown":
            env = report_environment(settings.templates_dir)
            rules = book.matcher.outage_rules
            reports = {
                o.id: outage_markdown(
                    session, o, book.by_id, rules, public_url=settings.public_url, env=env
                )
                for o in outages
            }
        outage_rows = [outage_json(session, o) for o in outages] if args.format == "json" else []
    if args.out:
        _write_reports(args.out, outages, reports)
    if args.format == "json":
        payload = {
            "lines": lines,
            "incidents": [incident_json(i) for i in incidents],
            "outages": outage_rows,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        sys.stdout.write("\n\n".join(reports[o.id] for o in outages))
    else:
        _print_text(lines, incidents)
    return 0


def _write_reports(out: Path, outages: list[Any], reports: dict[int | None, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for outage in outages:
        path = out / f"outage-{outage.id:04d}.md"
        path.write_text(reports[outage.id], encoding="utf-8")


def _print_text(lines: int, incidents: list[Any]) -> None:
    from service.reports.timefmt import stamp
    from service.signatures.model import CONFIDENCE_NOTES

    print(f"{lines} lines, {len(incidents)} incident{'s' if len(incidents) != 1 else ''}")
    for incident in incidents:
        fields = ", ".join(f"{k}={v}" for k, v in sorted(incident.fields.items()))
        head = f"#{incident.id} [{incident.severity.upper()}] {incident.status:<8}"
        print(f"{head} {incident.signature}{' (' + fields + ')' if fields else ''}")
        print(f"    {incident.title}")
        print(
            f"    source {incident.source}, {incident.occurrences} hit(s), "
            f"{stamp(incident.first_seen)} .. {stamp(incident.last_seen)}"
        )
        note = CONFIDENCE_NOTES.get(incident.confidence)
        if note:
            print(f"    confidence {incident.confidence}: {note}")
