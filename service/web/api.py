"""The JSON API: sources, incidents, outages, signatures, and the markdown reports. Login
required."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from service.db import utcnow
from service.errors import ApiError
from service.incidents.gaps import recent_gaps
from service.incidents.operator import IncidentUpdate, TransitionError, update_incident
from service.incidents.quarantine import quarantine_json, recent_quarantine
from service.incidents.queries import (
    incident_detail_json,
    incident_json,
    list_incidents,
    rfc3339,
)
from service.models import Incident, Outage
from service.outages.queries import list_outages, outage_detail_json, outage_json
from service.reports.render import incident_markdown, outage_markdown
from service.signatures.loader import SignatureError
from service.web.counts import source_counters
from service.web.deps import ApiUser, RuntimeDep, SessionDep
from service.web.views import signature_json

router = APIRouter(tags=["api"])


@router.get("/api/sources")
def sources(session: SessionDep, runtime: RuntimeDep, _user: ApiUser) -> dict[str, Any]:
    """List sources with their line counters."""
    counters = source_counters(session, runtime.spool, tally=runtime.tally)
    return {"sources": list(counters.values())}


@router.get("/api/sources/{name}")
def source(name: str, session: SessionDep, runtime: RuntimeDep, _user: ApiUser) -> dict[str, Any]:
    """Return one source's counters and its latest data gaps."""
    found = source_counters(session, runtime.spool, name, tally=runtime.tally).get(name)
    if found is None:
        raise ApiError(404, "not_found", f"no source called {name!r}")
    gaps = [{"time": rfc3339(gap.time), "text": gap.text} for gap in recent_gaps(session, name)]
    return {**found, "data_gaps": gaps}


@router.get("/api/sources/{name}/quarantine")
def source_quarantine(
    name: str,
    session: SessionDep,
    _user: ApiUser,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Return the records of a source the processor could not store, newest first, with why."""
    rows = recent_quarantine(session, name, limit=limit)
    return {"records": [quarantine_json(row) for row in rows]}


@router.get("/api/incidents")
def incidents(
    session: SessionDep,
    _user: ApiUser,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    source: str | None = None,
    signature: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    """List incidents, newest first."""
    found = list_incidents(session, status=status, source=source, signature=signature, limit=limit)
    return {"incidents": [incident_json(i) for i in found]}


_Row = TypeVar("_Row", Incident, Outage)


def _load(session: SessionDep, table: type[_Row], row_id: int, noun: str) -> _Row:
    """Return the row or answer 404 (an id no database column holds included)."""
    row = session.get(table, row_id) if 0 < row_id < 2**63 else None
    if row is None:
        raise ApiError(404, "not_found", f"no {noun} #{row_id}")
    return row


def load_incident(session: SessionDep, incident_id: int) -> Incident:
    """Return the incident or answer 404."""
    return _load(session, Incident, incident_id, "incident")


@router.get("/api/incidents/{incident_id}")
def incident(incident_id: int, session: SessionDep, _user: ApiUser) -> dict[str, Any]:
    """Return one incident with its timeline and sample events."""
    return incident_detail_json(session, load_incident(session, incident_id))


@router.patch("/api/incidents/{incident_id}")
def change_incident(
    incident_id: int, change: IncidentUpdate, session: SessionDep, user: ApiUser
) -> dict[str, Any]:
    """Acknowledge or resolve an incident, or fill in its operator fields."""
    incident = load_incident(session, incident_id)
    try:
        update_incident(session, incident, change, user=user.username, now=utcnow())
    except TransitionError as error:
        raise ApiError(409, "invalid_transition", str(error)) from error
    session.commit()
    return incident_detail_json(session, incident)


@router.get("/incidents/{incident_id}/report.md", response_class=PlainTextResponse)
def report_markdown(
    incident_id: int, session: SessionDep, runtime: RuntimeDep, _user: ApiUser
) -> PlainTextResponse:
    """Return the outage report as markdown."""
    text = incident_markdown(
        session,
        load_incident(session, incident_id),
        runtime.book.by_id,
        public_url=runtime.settings.public_url,
        env=runtime.report_env,
    )
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/outages")
def outages(
    session: SessionDep,
    _user: ApiUser,
    status: Literal["open", "resolved"] | None = None,
    source: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    """List outages, newest first, each with its incident ids and impact."""
    found = list_outages(session, status=status, source=source, limit=limit)
    return {"outages": [outage_json(session, o) for o in found]}


def load_outage(session: SessionDep, outage_id: int) -> Outage:
    """Return the outage or answer 404."""
    return _load(session, Outage, outage_id, "outage")


@router.get("/api/outages/{outage_id}")
def outage(outage_id: int, session: SessionDep, _user: ApiUser) -> dict[str, Any]:
    """Return one outage with its incidents."""
    return outage_detail_json(session, load_outage(session, outage_id))


@router.get("/outages/{outage_id}/report.md", response_class=PlainTextResponse)
def outage_report_markdown(
    outage_id: int, session: SessionDep, runtime: RuntimeDep, _user: ApiUser
) -> PlainTextResponse:
    """Return the outage's report as markdown: one story for all its incidents."""
    text = outage_markdown(
        session,
        load_outage(session, outage_id),
        runtime.book.by_id,
        runtime.book.matcher.outage_rules,
        public_url=runtime.settings.public_url,
        env=runtime.report_env,
    )
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/patterns")
def patterns(runtime: RuntimeDep, _user: ApiUser) -> dict[str, Any]:
    """List the loaded signatures."""
    disabled = runtime.processor.disabled
    return {
        "patterns": [signature_json(s, disabled.get(s.id)) for s in runtime.book.signatures],
        "skipped": list(runtime.book.problems),
    }


@router.post("/api/patterns/reload")
def reload_patterns(runtime: RuntimeDep, _user: ApiUser) -> dict[str, Any]:
    """Load the signature files again and swap them in whole."""
    try:
        count = runtime.book.reload()
    except SignatureError as error:
        raise ApiError(400, "invalid_patterns", "; ".join(error.errors)) from error
    return {
        "loaded": count,
        "reloaded_at": utcnow().isoformat(),
        "skipped": list(runtime.book.problems),
    }
