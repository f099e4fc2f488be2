"""Read a JSON document as `json.loads` does, but stream it and keep at most so many log lines.

A push body nests its lines in arrays (Loki's `streams[].values[]`, OTLP's
`resourceLogs[].scopeLogs[].logRecords[]`). `json.loads` would build every line of a 50 MiB body
as Python objects first (about ten times the body for one-letter lines) and only then could the
line cap apply. Here the document is parsed as a stream of events (ijson, its C backend), the
lines past `room` are counted and never built, and so are the containers past it: memory stays
in proportion to what is kept, and what is kept builds at most `MAX_VALUES` values.

A body of up to `WHOLE_BYTES` is read by `json.loads` itself (what it builds is small anyway), so
the everyday body keeps Python's reading of JSON to the letter (`NaN`, lone surrogates, deep
nesting); a larger one must be standard JSON (RFC 8259) in valid UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

import ijson  # type: ignore[import-untyped]
from ijson.backends import python as python_backend  # type: ignore[import-untyped]

# Deeper than this is no push body: refused, as json.loads refuses what would recurse too deep.
MAX_DEPTH = 512
# The most values (objects, arrays, strings, numbers...) a large body may build, lines and
# everything around them. More is refused (`JsonTooLarge`) before it is built: 48 MiB of
# `{"stringValue":"a"}` in one OTLP record would be 2.5 M dicts (+875 MiB). bench/bomb.py
# measured +113 MiB of peak RSS for that body refused at 500,000 (the inflated 48 MiB
# included), +177 MiB at 1,000,000. An OpenTelemetry collector's default batch (8,192 records of
# about ten attributes each) builds about 400,000.
MAX_VALUES = 500_000
WHOLE_BYTES = 1 << 20
_BEGIN = frozenset({"start_map", "start_array"})
_END = frozenset({"end_map", "end_array"})


class CappedJsonError(ValueError):
    """The bytes are not one JSON document (or are nested deeper than `MAX_DEPTH`)."""


class JsonTooLarge(CappedJsonError):
    """The document would build more than `MAX_VALUES` values within the line cap."""


def load_capped(
    data: bytes, *, lines: str, containers: tuple[str, ...] = (), room: int | None
) -> tuple[Any, int]:
    """Return the document with at most `room` items of the array at `lines`, and how many more
    it held.

    `lines` and `containers` are ijson prefixes of arrays (`"streams.item.values"`), compared
    without case or underscores (OTLP/JSON may spell `logRecords` as `log_records`); a container
    item (a stream, a resource) is kept only while there is room for a line, and at most `room`
    of them. What is left out is still parsed, to count the lines in it, but never built.
    """
    if len(data) <= WHOLE_BYTES:
        try:
            return json.loads(data), 0
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise CappedJsonError(str(error)) from None
    try:
        return _load(ijson.parse, data, lines=lines, containers=containers, room=room)
    except CappedJsonError as error:
        if "integer overflow" not in str(error):
            raise
    # The C parser stops at an integer of over 64 bits, which JSON allows (a timestamp in a
    # hostile body, say): the pure-Python parser reads it, slower, in the same bounded way.
    return _load(python_backend.parse, data, lines=lines, containers=containers, room=room)


def _load(
    parse: Any, data: bytes, *, lines: str, containers: tuple[str, ...], room: int | None
) -> tuple[Any, int]:
    line_item = _folded(f"{lines}.item")
    capped = {line_item, *(_folded(f"{prefix}.item") for prefix in containers)}
    kept = dict.fromkeys(capped, 0)
    builder = ijson.ObjectBuilder()
    folded: dict[str, str] = {}  # a body repeats a handful of prefixes
    skip_below = 0  # while > 0: the depth at which the item being left out began
    surplus = depth = 0
    budget = MAX_VALUES
    try:
        for raw_prefix, event, value in parse(data, use_float=True):
            prefix = folded.get(raw_prefix)
            if prefix is None:
                prefix = _folded(raw_prefix)
                if len(folded) < 1024:
                    folded[raw_prefix] = prefix
            if event in _BEGIN:
                depth += 1
                if depth > MAX_DEPTH:
                    raise CappedJsonError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
                starts_item = True
            elif event in _END:
                depth -= 1
                if skip_below:
                    if depth < skip_below:
                        skip_below = 0  # the left-out item's own end: not built either
                    continue
                builder.event(event, value)
                continue
            else:
                starts_item = event != "map_key"
            if skip_below:
                surplus += starts_item and prefix == line_item
                continue
            if starts_item and prefix in capped:
                if room is not None and (kept[prefix] >= room or kept[line_item] >= room):
                    surplus += prefix == line_item
                    if event in _BEGIN:
                        skip_below = depth
                    continue
                kept[prefix] += 1
            budget -= starts_item
            if budget < 0:
                raise JsonTooLarge(
                    f"the JSON holds more than {MAX_VALUES} values within the line cap;"
                    " send fewer or smaller records per request"
                )
            builder.event(event, value)
    except ijson.JSONError as error:
        raise CappedJsonError(_first_line(error)) from None
    except UnicodeDecodeError as error:
        raise CappedJsonError(f"the JSON is not valid UTF-8: {error.reason}") from None
    if not hasattr(builder, "value"):
        raise CappedJsonError("the body holds no JSON value")
    return builder.value, surplus


def _folded(prefix: str) -> str:
    return prefix.replace("_", "").lower()


def _first_line(error: ijson.JSONError) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else "invalid JSON"
