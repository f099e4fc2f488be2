"""`POST /loki/api/v1/push`: Grafana Loki's push API, in JSON or snappy-compressed protobuf.

What Promtail, Grafana Alloy's `loki.write`, Vector's and Fluent Bit's `loki` outputs send. The
source is a stream label (`source`, `service_name`, `app`, `job`...) with the global token, or the
token's own source; `?source=` names it when no label does.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.ingest.formats.loki import parse_loki_json, parse_loki_protobuf
from service.web.deps import RuntimeDep
from service.web.grants import AnyGrant
from service.web.intake import Reader, WireBody, accept_labelled, media_type, unsupported

router = APIRouter(tags=["ingest"])

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_SOURCE = "loki"


@router.post("/loki/api/v1/push", status_code=202)
async def loki_push(
    grant: AnyGrant, body: WireBody, request: Request, runtime: RuntimeDep
) -> JSONResponse:
    """Accept one Loki `PushRequest`."""
    content_type = media_type(request, default=PROTOBUF)
    if content_type not in (PROTOBUF, JSON):
        raise unsupported(content_type, f"{PROTOBUF} (snappy) or {JSON}")
    settings = runtime.settings
    cap = settings.max_lines_per_batch
    read: Reader
    if content_type == PROTOBUF:
        # Snappy is the body's own compression: its size is checked before inflating it.
        read = partial(parse_loki_protobuf, max_bytes=settings.max_decoded_bytes, max_entries=cap)
    else:
        read = partial(parse_loki_json, max_entries=cap)
    outcome = await accept_labelled(
        runtime,
        request,
        body,
        read,
        grant.source,
        default_source=DEFAULT_SOURCE,
        expands=content_type == PROTOBUF,
    )
    return JSONResponse(outcome.json(), status_code=202)
