"""An OTLP `ExportLogsServiceRequest` read from its wire format: each resource and scope, and the
log records kept as the bytes of each, one to decode at a time; records past the line cap are
counted and never built (`wire.py`).

The messages (opentelemetry-proto): `ExportLogsServiceRequest {repeated ResourceLogs
resource_logs = 1}`, `ResourceLogs {Resource resource = 1; repeated ScopeLogs scope_logs = 2}`,
`ScopeLogs {InstrumentationScope scope = 1; repeated LogRecord log_records = 2}`. One record (or
resource, or scope) may be decoded whole by protobuf, but no larger than `MAX_PART_BYTES`: a
record of millions of tiny attributes or array values is millions of objects when decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.ingest.formats.wire import LEN, count_and_last, fields

# The largest record, resource or scope decoded (a line is cut at 64 KiB anyway); larger ones
# are counted as `record_too_large` (a resource or scope: every record under it).
MAX_PART_BYTES = 1024 * 1024


@dataclass(slots=True)
class WireScope:
    """One `ScopeLogs`: its scope's bytes, the records kept (their bytes), and the counts of
    records past the room and of records too large to decode."""

    scope: bytes = b""
    records: list[bytes] = field(default_factory=list)
    surplus: int = 0
    too_large: int = 0


@dataclass(slots=True)
class WireResource:
    """One `ResourceLogs`: its resource's bytes and its scopes."""

    resource: bytes = b""
    scopes: list[WireScope] = field(default_factory=list)


def export_resources(raw: bytes, room: int | None) -> list[WireResource]:
    """Return the resources of an export request, keeping at most `room` records in all.

    Raises `wire.WireError` when the bytes are not a well-formed message.
    """
    resources: list[WireResource] = []
    left = [room]
    for number, kind, start, end in fields(raw, 0, len(raw)):
        if number == 1 and kind == LEN:
            resources.append(_resource(raw, start, end, left))
    return resources


def _resource(raw: bytes, start: int, end: int, left: list[int | None]) -> WireResource:
    resource = WireResource()
    too_large = False
    for number, kind, a, b in fields(raw, start, end):
        if kind != LEN:
            continue
        if number == 1:
            too_large = b - a > MAX_PART_BYTES
            resource.resource = b"" if too_large else raw[a:b]
        elif number == 2:
            resource.scopes.append(_scope(raw, a, b, left))
    if too_large:
        _all_too_large(resource.scopes)
    return resource


def _scope(raw: bytes, start: int, end: int, left: list[int | None]) -> WireScope:
    scope = WireScope()
    too_large = False
    for number, kind, a, b in fields(raw, start, end):
        if kind != LEN:
            continue
        if number == 1:
            too_large = b - a > MAX_PART_BYTES
            scope.scope = b"" if too_large else raw[a:b]
        elif number == 2:
            room = left[0]
            if room is not None and room <= 0:
                rest, late = count_and_last(raw, b, end, 2, 1)
                scope.surplus += 1 + rest
                if late is not None:  # a scope written after its records (protobuf allows it)
                    too_large = late[1] - late[0] > MAX_PART_BYTES
                    scope.scope = b"" if too_large else raw[late[0] : late[1]]
                break
            if room is not None:
                left[0] = room - 1
            if b - a > MAX_PART_BYTES:
                scope.too_large += 1
            else:
                scope.records.append(raw[a:b])
    if too_large:
        _all_too_large([scope])
    return scope


def _all_too_large(scopes: list[WireScope]) -> None:
    """Count every kept record of `scopes` as too large: what names them could not be read."""
    for scope in scopes:
        scope.too_large += len(scope.records)
        scope.records.clear()
