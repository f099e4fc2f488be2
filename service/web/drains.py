"""`POST|PUT /drains/{source}`: one batch of log lines in, durable in the spool, then 202."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.db import utcnow
from service.errors import ApiError
from service.ingest.headers import parse_text
from service.ingest.normalise import decode_bytes
from service.sources import SourceNameError, check_source_name, get_source, token_matches
from service.spool.store import SpoolError, SpoolFull
from service.web.body import decode_content, read_limited
from service.web.deps import RuntimeDep, basic_credentials

router = APIRouter(tags=["ingest"])

# `curl --data-binary @app.log` labels its body form-urlencoded; shippers often say octet-stream.
TEXT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "application/octet-stream")


def presented_token(request: Request) -> str | None:
    """Return the ingest token from Bearer, Basic password or `?token=`, whichever came."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    credentials = basic_credentials(request)
    if credentials is not None and credentials[1]:
        return credentials[1]
    return request.query_params.get("token") or None


def authorize_ingest(source: str, request: Request, runtime: RuntimeDep) -> str:
    """Return the source name when the request carries a token valid for it; else 401."""
    try:
        check_source_name(source)
    except SourceNameError as error:
        raise ApiError(400, "bad_source", str(error)) from error
    token = presented_token(request)
    if token is None:
        raise ApiError(
            401, "unauthorized", "send the ingest token as Bearer, Basic password or ?token="
        )
    expected = runtime.settings.ingest_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return source
    try:
        with Session(runtime.engine) as session:
            known = get_source(session, source)
            token_hash = known.token_hash if known else None
    except SQLAlchemyError as error:
        raise ApiError(
            503,
            "unavailable",
            "the token cannot be checked while the database is down",
            headers={"Retry-After": "5"},
        ) from error
    if not token_matches(token, token_hash):
        raise ApiError(401, "unauthorized", "the ingest token is not valid for this source")
    return source


async def wire_body(request: Request, runtime: RuntimeDep) -> bytes:
    """Return the raw request body within the wire limit."""
    return await read_limited(request, runtime.settings.max_body_bytes)


@router.api_route("/drains/{source}", methods=["POST", "PUT"], status_code=202)
def drain(
    source: Annotated[str, Depends(authorize_ingest)],
    body: Annotated[bytes, Depends(wire_body)],
    request: Request,
    runtime: RuntimeDep,
) -> JSONResponse:
    """Accept one batch of log lines for `source`."""
    settings = runtime.settings
    content_type = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if content_type not in TEXT_TYPES:
        raise ApiError(
            415, "unsupported_media_type", f"Content-Type {content_type!r} is not supported"
        )
    data = decode_content(
        body, request.headers.get("content-encoding", ""), settings.max_decoded_bytes
    )
    now = utcnow()
    text = decode_bytes(data)
    records = parse_text(
        text,
        source=source,
        received_at=now,
        start_seq=runtime.reserve_seq(text.count("\n") + 1),
        max_line_bytes=settings.max_line_bytes,
    )
    reasons: dict[str, int] = {}
    if len(records) > settings.max_lines_per_batch:
        reasons["too_many_lines"] = len(records) - settings.max_lines_per_batch
        records = records[: settings.max_lines_per_batch]
    if not records:
        raise ApiError(400, "empty", "the body holds no log lines")
    try:
        runtime.spool.append(source, records, received_at=now)
    except SpoolFull as error:
        raise ApiError(503, "spool_full", str(error), headers={"Retry-After": "10"}) from error
    except SpoolError as error:
        raise ApiError(
            503,
            "unavailable",
            f"the batch could not be made durable: {error}",
            headers={"Retry-After": "5"},
        ) from error
    runtime.metrics.lines_accepted.labels(source=source).inc(len(records))
    for reason, count in reasons.items():
        runtime.metrics.lines_rejected.labels(reason=reason).inc(count)
    return JSONResponse(
        {"accepted": len(records), "rejected": sum(reasons.values()), "reasons": reasons},
        status_code=202,
    )
