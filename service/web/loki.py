"""`POST /loki/api/v1/push`: Grafana Loki's push API, in JSON or snappy-compressed protobuf.

What Promtail, Grafana Alloy's `loki.write`, Vector's and Fluent Bit's `loki` outputs send. The
source is a stream label (`source`, `service_name`, `app`, `job`...) with the global token, or the
token's own source; `?source=` names it when no label does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.ingest.entries import BodyError
from service.ingest.formats.loki import parse_loki_json, parse_loki_protobuf
from service.ingest.timestamps import ignored_times
from service.web.deps import RuntimeDep
from service.web.intake import (
    AnyGrant,
    WireBody,
    accept_labelled,
    bad_body,
    decoded_body,
    media_type,
    unsupported,
)

router = APIRouter(tags=["ingest"])

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_SOURCE = "loki"


@router.post("/loki/api/v1/push", status_code=202)
def loki_push(
    grant: AnyGrant, body: WireBody, request: Request, runtime: RuntimeDep
) -> JSONResponse:
    """Accept one Loki `PushRequest`."""
    content_type = media_type(request, default=PROTOBUF)
    if content_type not in (PROTOBUF, JSON):
        raise unsupported(content_type, f"{PROTOBUF} (snappy) or {JSON}")
    data = decoded_body(body, request, runtime)
    times_mark = ignored_times()
    settings = runtime.settings
    cap = settings.max_lines_per_batch
    try:
        if content_type == PROTOBUF:
            # Snappy is the body's own compression: its size is checked before inflating it.
            parsed = parse_loki_protobuf(
                data, max_bytes=settings.max_decoded_bytes, max_entries=cap
            )
        else:
            parsed = parse_loki_json(data, max_entries=cap)
    except BodyError as error:
        raise bad_body(error) from error
    outcome = accept_labelled(
        runtime, parsed, grant, request, default_source=DEFAULT_SOURCE, times_mark=times_mark
    )
    return JSONResponse(outcome.json(), status_code=202)
