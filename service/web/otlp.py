"""`POST /v1/logs`: OpenTelemetry logs over OTLP/HTTP, in protobuf or JSON.

What any OpenTelemetry collector's `otlphttp` exporter and Heroku's telemetry drains send. The
source is the resource's `service.name` (with the global token) or the token's own source;
`?source=` names it when the resource does not. Success is 200 with an
`ExportLogsServiceResponse` in the request's encoding, as the OTLP specification requires.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.ingest.formats.otlp import export_response, parse_otlp_json, parse_otlp_protobuf
from service.web.deps import RuntimeDep
from service.web.grants import AnyGrant
from service.web.intake import WireBody, accept_labelled, media_type, unsupported

router = APIRouter(tags=["ingest"])

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_SOURCE = "otel"


@router.post("/v1/logs")
async def otlp_logs(
    grant: AnyGrant, body: WireBody, request: Request, runtime: RuntimeDep
) -> Response:
    """Accept one OTLP `ExportLogsServiceRequest`."""
    content_type = media_type(request, default="")
    if content_type not in (PROTOBUF, JSON):
        raise unsupported(content_type, f"{PROTOBUF} or {JSON}")
    protobuf = content_type == PROTOBUF
    parse = parse_otlp_protobuf if protobuf else parse_otlp_json
    outcome = await accept_labelled(
        runtime,
        request,
        body,
        partial(parse, max_entries=runtime.settings.max_lines_per_batch),
        grant.source,
        default_source=DEFAULT_SOURCE,
    )
    detail = ", ".join(f"{n} {reason}" for reason, n in sorted(outcome.reasons.items()))
    return Response(
        export_response(outcome.rejected, detail, protobuf=protobuf),
        status_code=200,
        media_type=content_type,
    )
