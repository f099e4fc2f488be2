"""OpenTelemetry logs over OTLP/HTTP: an `ExportLogsServiceRequest` in protobuf or OTLP/JSON read
into entries, and the `ExportLogsServiceResponse` that answers it.

Pure: bytes in, a `Parsed` (or the response's bytes) out. Both encodings are decoded into the same
protobuf message and read by one code path, so the same request gives the same entries either way.

Each log record is one entry: its body (a string as is; a kvlist as a compact JSON object, which the
JSON-line reader then reads like any structured log line), followed by the OTel `exception.*`
attributes a logging bridge sets (so a Python traceback arrives as its lines). The resource says
where it came from: `service.name` (or Heroku's app name) is the source, the service instance,
host, pod or Heroku dyno is the instance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from service.ingest.entries import BodyError, Entry, Parsed
from service.ingest.formats.caps import TOO_MANY, within_room
from service.ingest.formats.jsoncap import CappedJsonError, JsonTooLarge, load_capped
from service.ingest.formats.otlpvalues import (
    compact_json,
    contains,
    is_empty,
    kvlist,
    plain,
    render_value,
    with_fields,
)
from service.ingest.formats.otlpwire import export_resources
from service.ingest.formats.wire import WireError

# Resource attributes naming the source: OTel's service.name, else the Heroku app name (Heroku's
# own detectors put HEROKU_APP_NAME in service.name; some put it in heroku.app.name).
SOURCE_KEYS = ("service.name", "heroku.app.name")
# An SDK whose service.name was never configured says "unknown_service" or "unknown_service:bash".
UNNAMED_SERVICE = "unknown_service"
# Resource attributes naming the instance, best first. On Heroku service.instance.id is the dyno id
# (HEROKU_DYNO_ID); heroku.dyno.name is the dyno's name (web.1) where a drain sets it.
INSTANCE_KEYS = (
    *("service.instance.id", "host.name", "k8s.pod.name"),
    *("heroku.dyno.name", "heroku.dyno.id"),
)
# Log record attributes of OTel's exception semantic conventions.
EXCEPTION_TYPE, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE = (
    "exception.type",
    "exception.message",
    "exception.stacktrace",
)
# Log record attributes whose text is worth matching, written after the message as key=value
# (`logger.error("query failed", extra={"error": str(exc)})`).
EXTRA_KEYS = ("error", "error.message", "error.type")
# Severity numbers 1-24 in four-step bands (OTel logs data model).
SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# A record is an HTTP access log when its scope (the logger's name) ends with one of these, or its
# attributes carry both an HTTP method and a response status (current and older semconv names).
ACCESS_SCOPES = frozenset(("access", "access_log", "accesslog"))
HTTP_METHOD_KEYS = ("http.request.method", "http.method")
HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
_MAX_DETAIL = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# OTLP/JSON writes trace and span ids in hex where protobuf's JSON mapping expects base64.
_TRACE_CONTEXT_KEYS = ("traceId", "trace_id", "spanId", "span_id")


def parse_otlp_json(data: bytes, *, max_entries: int | None = None) -> Parsed:
    """Read an OTLP/JSON `ExportLogsServiceRequest` (`Content-Type: application/json`).

    Field names may be lowerCamelCase or the proto's snake_case, 64-bit integers strings or
    numbers, `severityNumber` an integer or its enum name; unknown fields are ignored. The hex
    `traceId`/`spanId` are dropped unread (drainwatch has no use for them). Raises `BodyError`
    ("bad_otlp") when the body is not JSON or not an export request, ("payload_too_large") when
    what it keeps would build over `jsoncap.MAX_VALUES` values, and nothing else.
    """
    try:
        document, surplus = load_capped(
            data,
            lines="resourceLogs.item.scopeLogs.item.logRecords",
            containers=("resourceLogs", "resourceLogs.item.scopeLogs"),
            room=max_entries,
        )
    except JsonTooLarge as error:
        raise BodyError("payload_too_large", _detail("too large", error)) from None
    except CappedJsonError as error:
        raise BodyError("bad_otlp", _detail("not valid JSON", error)) from None
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise BodyError(
            "bad_otlp", f"expected a JSON object (ExportLogsServiceRequest), got {kind}"
        )
    _drop_trace_context(document)
    request = ExportLogsServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.Error, ValueError, TypeError, RecursionError, OverflowError) as error:
        raise BodyError("bad_otlp", _detail("not an OTLP/JSON logs export", error)) from None
    parsed = _read_request(request, max_entries)
    if surplus:
        parsed.rejected[TOO_MANY] += surplus
    return parsed


def parse_otlp_protobuf(data: bytes, *, max_entries: int | None = None) -> Parsed:
    """Read a protobuf `ExportLogsServiceRequest` (`Content-Type: application/x-protobuf`).

    Raises `BodyError` ("bad_otlp") when the bytes are not a valid message (corrupt or truncated
    wire format, invalid UTF-8 in a string, nesting past protobuf's depth limit), and nothing else.
    The request is walked on the wire (`otlpwire`) and its records decoded one at a time: those
    past `max_entries` are counted as "too_many_lines", never decoded, and one over
    `otlpwire.MAX_PART_BYTES` as "record_too_large".
    """
    try:
        resources = export_resources(data, max_entries)
    except WireError as error:
        raise BodyError("bad_otlp", _detail("not a protobuf logs export", error)) from None
    parsed = Parsed()
    for wire_resource in resources:
        resource = _attributes(_decoded(Resource, wire_resource.resource).attributes)
        source = _resource_source(resource)
        instance = _resource_instance(resource)
        for wire_scope in wire_resource.scopes:
            scope = str(_decoded(InstrumentationScope, wire_scope.scope).name)
            if wire_scope.surplus:
                parsed.rejected[TOO_MANY] += wire_scope.surplus
            if wire_scope.too_large:
                parsed.rejected["record_too_large"] += wire_scope.too_large
            for raw_record in wire_scope.records:
                record = _decoded(LogRecord, raw_record)
                entry = _record_entry(record, source=source, instance=instance, scope=scope)
                if entry is None:
                    parsed.rejected["empty_message"] += 1
                else:
                    parsed.entries.append(entry)
    return parsed


def _decoded(kind: Any, data: bytes) -> Any:
    """Decode one message of the request (a record, resource or scope) as protobuf does."""
    try:
        return kind.FromString(data)
    except (DecodeError, ValueError, TypeError, RecursionError, OverflowError) as error:
        raise BodyError("bad_otlp", _detail("not a protobuf logs export", error)) from None


def export_response(rejected: int, message: str, *, protobuf: bool) -> bytes:
    """Encode the `ExportLogsServiceResponse` of an accepted export, as protobuf or OTLP/JSON.

    `partialSuccess` (`rejectedLogRecords`, `errorMessage`) is set only when records were rejected;
    otherwise the response is empty (`{}` in JSON), which OTLP reads as full success.
    """
    response = ExportLogsServiceResponse()
    if rejected > 0:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    if protobuf:
        return bytes(response.SerializeToString())
    document = json_format.MessageToDict(response)
    return json.dumps(document, separators=(",", ":")).encode()


def _read_request(request: ExportLogsServiceRequest, max_entries: int | None) -> Parsed:
    """Turn a decoded export request into entries, one per log record that says something.

    A record with neither a body nor exception attributes is counted as "empty_message"; records
    past `max_entries` as "too_many_lines", unread.
    """
    parsed = Parsed()
    room = max_entries
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        source = _resource_source(resource)
        instance = _resource_instance(resource)
        for scope_logs in resource_logs.scope_logs:
            scope = str(scope_logs.scope.name)
            records = within_room(scope_logs.log_records, room, parsed)
            room = None if room is None else room - len(records)
            for record in records:
                entry = _record_entry(record, source=source, instance=instance, scope=scope)
                if entry is None:
                    parsed.rejected["empty_message"] += 1
                else:
                    parsed.entries.append(entry)
    return parsed


def _resource_source(resource: dict[str, AnyValue]) -> str:
    """Return the source a resource names: its service.name unless unset, else its Heroku app."""
    for key in SOURCE_KEYS:
        name = _string(resource, key)
        if name and not name.startswith(UNNAMED_SERVICE):
            return name
    return ""


def _resource_instance(resource: dict[str, AnyValue]) -> str:
    """Return the instance a resource names: service instance, host, pod or Heroku dyno."""
    return next((value for key in INSTANCE_KEYS if (value := _string(resource, key))), "")


def _record_entry(record: LogRecord, *, source: str, instance: str, scope: str) -> Entry | None:
    """Map one log record to an entry; None when it has no body and no exception to tell."""
    attributes = _attributes(record.attributes)
    exception = _exception_text(attributes)
    if not exception and is_empty(record.body):
        return None
    return Entry(
        message=_record_message(record.body, attributes, exception),
        time=_record_time(record),
        instance=instance,
        stream=_record_stream(scope, attributes),
        level=_record_level(record),
        source=source,
    )


def _record_message(body: AnyValue, attributes: dict[str, AnyValue], exception: str) -> str:
    """Render a record's text: the body, the extra fields worth matching, then the exception.

    A kvlist body becomes a compact JSON object with the extra fields added as keys; any other
    body takes them as `key=value` at the end of its first line. The exception follows on its own
    lines unless the body already holds it.
    """
    extras = {key: attributes[key] for key in EXTRA_KEYS if key in attributes}
    if body.WhichOneof("value") == "kvlist_value":
        fields = kvlist(body.kvlist_value, 0)
        for key, value in extras.items():
            fields.setdefault(key, plain(value, 1))
        text = compact_json(fields)
    else:
        text = with_fields(render_value(body).rstrip(), extras)
    if exception and not contains(text, exception):
        text = f"{text}\n{exception}" if text.strip() else exception
    return text


def _exception_text(attributes: dict[str, AnyValue]) -> str:
    """Return the exception a record's `exception.*` attributes describe, as a log prints it.

    The stack trace when there is one (a Python traceback ends with "Type: message" already),
    headed by "Type: message" only when the trace does not name them; else "Type: message".
    """
    kind = _text(attributes, EXCEPTION_TYPE).strip()
    message = _text(attributes, EXCEPTION_MESSAGE).strip()
    stack = _text(attributes, EXCEPTION_STACKTRACE).rstrip()
    headline = ": ".join(part for part in (kind, message) if part)
    if not stack.strip():
        return headline
    if all(part in stack for part in (kind, message)):
        return stack
    return f"{headline}\n{stack}"


def _record_time(record: LogRecord) -> datetime | None:
    """Return when the event happened (`timeUnixNano`), else when it was observed; 0 is unset."""
    nanos = int(record.time_unix_nano) or int(record.observed_time_unix_nano)
    if nanos <= 0:
        return None
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def _record_level(record: LogRecord) -> str:
    """Return the record's level word: its `severityText`, else its `severityNumber`'s band."""
    text = str(record.severity_text).strip()
    if text:
        return text
    number = int(record.severity_number)
    if 1 <= number <= 4 * len(SEVERITIES):
        return SEVERITIES[(number - 1) // 4]
    return ""


def _record_stream(scope: str, attributes: dict[str, AnyValue]) -> str:
    """Return "request" for an HTTP access log (by its scope or HTTP attributes), else "app"."""
    if scope.rsplit(".", 1)[-1].lower() in ACCESS_SCOPES:
        return "request"
    has_method = any(key in attributes for key in HTTP_METHOD_KEYS)
    if has_method and any(key in attributes for key in HTTP_STATUS_KEYS):
        return "request"
    return "app"


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, AnyValue]:
    """Index repeated KeyValue pairs by key (the first of a repeated key wins)."""
    indexed: dict[str, AnyValue] = {}
    for pair in pairs:
        indexed.setdefault(str(pair.key), pair.value)
    return indexed


def _string(attributes: dict[str, AnyValue], key: str) -> str:
    """Return a string-valued attribute, stripped; "" when missing or of another kind."""
    value = attributes.get(key)
    if value is None or value.WhichOneof("value") != "string_value":
        return ""
    return str(value.string_value).strip()


def _text(attributes: dict[str, AnyValue], key: str) -> str:
    value = attributes.get(key)
    return "" if value is None else render_value(value)


def _drop_trace_context(document: dict[str, Any]) -> None:
    """Remove the log records' hex trace and span ids, which protobuf's JSON reader reads as base64.

    drainwatch does not use them, and a client that wrote them wrong keeps its logs.
    """
    for resource_logs in _objects(document, "resourceLogs", "resource_logs"):
        for scope_logs in _objects(resource_logs, "scopeLogs", "scope_logs"):
            for record in _objects(scope_logs, "logRecords", "log_records"):
                for key in _TRACE_CONTEXT_KEYS:
                    record.pop(key, None)


def _objects(parent: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    """Return the objects listed under any of the keys (anything else is left to the parser)."""
    found: list[dict[str, Any]] = []
    for key in keys:
        items = parent.get(key)
        if isinstance(items, list):
            found.extend(item for item in items if isinstance(item, dict))
    return found


def _detail(what: str, error: BaseException) -> str:
    """Say why a body was refused, keeping the innermost of protobuf's nested reasons."""
    reason = str(error)
    innermost = reason.rfind("Failed to parse ")
    reason = reason[innermost:] if innermost > 0 else reason
    if len(reason) > _MAX_DETAIL:
        reason = reason[: _MAX_DETAIL - 1] + "…"
    return f"{what}: {reason}" if reason else what
