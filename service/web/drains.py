"""`POST|PUT /drains/{source}`: one batch of log lines in any drain format, durable, then 202.

Text (one line per entry, each optionally a syslog line), Heroku's logplex frames, and JSON in all
its container forms (an object, an array, NDJSON, concatenated objects).
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.ingest.entries import Entry, Parsed
from service.ingest.formats.jsonbody import parse_json_body
from service.ingest.formats.logplex import parse_logplex
from service.ingest.normalise import decode_bytes
from service.metrics import Metrics
from service.runtime import Runtime
from service.web.grants import authorize_source
from service.web.intake import Reader, accept_body, media_type, unsupported, wire_body

router = APIRouter(tags=["ingest"])

LOGPLEX_TYPES = ("application/logplex-1", "application/x-logplex-1")
JSON_TYPES = ("application/json", "application/x-ndjson", "application/jsonlines", "text/json")
# `curl --data-binary @app.log` labels its body form-urlencoded; shippers often say octet-stream.
TEXT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "application/octet-stream")


def parse_text_body(data: bytes) -> Parsed:
    """Read a text body as one entry: its lines are split, and hard wraps joined, downstream."""
    return Parsed(entries=[Entry(message=decode_bytes(data))])


def _parser(content_type: str, max_entries: int) -> Reader:
    # A text body is one entry, cut at the line cap by `accept`; the others stop at the cap.
    if content_type in TEXT_TYPES:
        return parse_text_body
    if content_type in LOGPLEX_TYPES:
        return partial(parse_logplex, max_entries=max_entries)
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return partial(parse_json_body, max_entries=max_entries)
    raise unsupported(content_type, "text/plain, application/logplex-1, JSON or NDJSON")


@router.post("/drains/{source}", status_code=202)
async def drain(source: str, request: Request) -> JSONResponse:
    """Accept one batch of log lines for `source`."""
    # The token, then the body, called in place rather than as dependencies: resolving them
    # cost about 50 us a request, a seventh of a one-line batch's whole answer.
    runtime: Runtime = request.app.state.runtime
    await authorize_source(source, request, runtime)
    body = await wire_body(request, runtime)
    content_type = media_type(request)
    read = _parser(content_type, runtime.settings.max_lines_per_batch)
    logplex = content_type in LOGPLEX_TYPES
    declared = None
    if logplex:
        count = request.headers.get("logplex-msg-count", "").strip()
        declared = int(count) if count.isdigit() else None
        read = partial(_counted_frames, read, declared, source, runtime.metrics)
    outcome = await accept_body(
        runtime,
        request,
        body,
        read,
        source=source,
        logplex=logplex,
        idempotency_key=request.headers.get("logplex-frame-id") if logplex else None,
        declared_lines=declared,
    )
    return JSONResponse(outcome.json(), status_code=202)


# Some senders (syslog-ng's http() with method("PUT")) PUT; the same route, its own operation id.
router.put("/drains/{source}", status_code=202, operation_id="drain_put")(drain)


def _counted_frames(
    read: Reader, declared: int | None, source: str, metrics: Metrics, data: bytes
) -> Parsed:
    """Read a logplex body, counting it when its `Logplex-Msg-Count` disagrees with its frames."""
    parsed = read(data)
    framed = len(parsed.entries) + parsed.rejected["bad_frame"]
    if declared is not None and declared != framed:
        metrics.logplex_count_mismatch.labels(source=source).inc()
    return parsed
