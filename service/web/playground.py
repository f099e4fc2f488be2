"""The `/patterns` page: the signature catalogue by area with each signature's incident and hit
counts, and a playground that runs pasted log text through the signatures in force and explains
the result as `drainwatch patterns test` does (`service.signatures.tryout`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from service.incidents.tallies import SignatureTally, signature_tallies
from service.models import User
from service.runtime import Runtime
from service.signatures.model import Signature
from service.signatures.tryout import Trial, spelled_out, try_text
from service.web.deps import PageUser, RuntimeDep, SessionDep

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
MAX_TEXT_CHARS = 200_000
MAX_LINES = 5_000
_NO_TALLY = SignatureTally(0, 0, 0)


def catalogue(
    signatures: tuple[Signature, ...], tallies: dict[str, SignatureTally]
) -> list[tuple[str, list[tuple[Signature, SignatureTally]]]]:
    """Return the signatures grouped by area (the id's first part), areas and ids sorted."""
    areas: dict[str, list[tuple[Signature, SignatureTally]]] = defaultdict(list)
    for signature in signatures:
        area = signature.id.split(".", 1)[0]
        areas[area].append((signature, tallies.get(signature.id, _NO_TALLY)))
    return [
        (area, sorted(found, key=lambda item: item[0].id)) for area, found in sorted(areas.items())
    ]


def trial_view(trial: Trial) -> list[dict[str, Any]]:
    """Return what the page shows of a trial, log text spelled out as the command prints it."""
    shown = []
    for tried in trial.shown:
        first, last = tried.lines
        item: dict[str, Any] = {
            "span": f"line {first}" if first == last else f"lines {first}-{last}",
            "message": spelled_out(tried.event.text, keep="\n\t"),
            "hits": [],
            "unmatched": None,
        }
        winner = tried.hits[0].signature.id if tried.hits else ""
        for index, hit in enumerate(tried.hits):
            item["hits"].append(
                {
                    "id": hit.signature.id,
                    "title": spelled_out(hit.signature.title),
                    "severity": hit.signature.severity,
                    "fields": [(k, spelled_out(v)) for k, v in hit.fields.items()],
                    "closes": hit.role == "close",
                    "overruled_by": winner if index else "",
                }
            )
        if tried.unmatched is not None:
            item["unmatched"] = {
                "header": spelled_out(tried.unmatched.header),
                "parsed": [(k, spelled_out(v)) for k, v in tried.unmatched.parsed.items()],
                "nearest": [
                    (miss.signature, spelled_out(miss.reason)) for miss in tried.unmatched.nearest
                ],
            }
        shown.append(item)
    return shown


def _page(
    request: Request,
    session: Session,
    runtime: Runtime,
    user: User,
    *,
    status: int = 200,
    text: str = "",
    trial: Trial | None = None,
    error: str = "",
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    signatures = runtime.book.signatures
    context: dict[str, Any] = {
        "user": user,
        "signatures": signatures,
        "areas": catalogue(signatures, signature_tallies(session)),
        "disabled": runtime.processor.disabled,
        "skipped": runtime.book.problems,
        "text": text,
        "trial": trial_view(trial) if trial is not None else None,
        "events": trial.events if trial is not None else 0,
        "error": error,
        "max_chars": MAX_TEXT_CHARS,
        "max_lines": MAX_LINES,
    }
    return templates.TemplateResponse(request, "patterns.html.j2", context, status_code=status)


@router.get("/patterns")
def patterns_page(
    request: Request, session: SessionDep, runtime: RuntimeDep, user: PageUser
) -> HTMLResponse:
    """Show the catalogue by area with hit counts, and the playground's empty form."""
    return _page(request, session, runtime, user)


@router.post("/patterns")
def try_patterns(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: PageUser,
    text: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Run the pasted text through the signatures in force and show what matched, and why not."""
    if len(text) > MAX_TEXT_CHARS or text.count("\n") >= MAX_LINES:
        error = (
            f"The playground takes up to {MAX_TEXT_CHARS:,} characters and {MAX_LINES:,} lines: "
            "paste the part around the failure, or run drainwatch patterns test --file F."
        )
        return _page(request, session, runtime, user, status=413, text=text, error=error)
    if not text.strip():
        error = "Paste some log text first: a line, a traceback, or a stretch of a log."
        return _page(request, session, runtime, user, status=400, text=text, error=error)
    trial = try_text(runtime.book.matcher, text, gap_seconds=runtime.settings.traceback_gap_seconds)
    return _page(request, session, runtime, user, text=text, trial=trial)
