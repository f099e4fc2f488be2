"""`drainwatch incident ack|resolve|note ID`: what an operator does to an incident by hand."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `incident` subcommand."""
    parser = subparsers.add_parser("incident", help="acknowledge, resolve or annotate an incident")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, help_text in (
        ("ack", "acknowledge: someone is on it"),
        ("resolve", "resolve by hand (a new hit opens a linked recurrence)"),
        ("note", "add a note, or fill in the operator fields"),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("incident_id", type=int, metavar="INCIDENT_ID")
        sub.add_argument("--note", help="a note for the timeline and the report")
        sub.add_argument("--owner", help="who owns the incident")
        sub.add_argument("--business-impact", help="what it cost, in words")
        sub.add_argument("--fix-commit", help="the commit that fixed it")
        sub.set_defaults(run=run, status={"ack": "acknowledged", "resolve": "resolved"}.get(action))


def run(args: argparse.Namespace) -> int:
    """Apply the change to the configured database and print the incident's new state."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from service.db import migrated_engine, utcnow
    from service.incidents.operator import IncidentUpdate, TransitionError, update_incident
    from service.models import Incident
    from service.settings import Settings

    try:
        change = IncidentUpdate(
            status=args.status,
            note=args.note,
            owner=args.owner,
            business_impact=args.business_impact,
            fix_commit=args.fix_commit,
        )
    except ValidationError as error:
        print(f"drainwatch: {error.errors()[0]['msg']}", file=sys.stderr)
        return 2
    with migrated_engine(Settings().database_url) as engine, Session(engine) as session:
        incident = session.get(Incident, args.incident_id)
        if incident is None:
            print(f"drainwatch: no incident #{args.incident_id}", file=sys.stderr)
            return 1
        try:
            update_incident(session, incident, change, user=getpass.getuser(), now=utcnow())
        except TransitionError as error:
            print(f"drainwatch: {error}", file=sys.stderr)
            return 1
        session.commit()
        print(f"#{incident.id} {incident.status} {incident.signature} ({incident.source})")
    return 0
