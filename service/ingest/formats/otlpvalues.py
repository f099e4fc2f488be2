"""OTLP `AnyValue`s rendered as the text of a log line: strings as they are, kvlists and arrays
as compact JSON (nesting past `MAX_RENDER_DEPTH` elided), extra fields as `key=value`."""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValueList

# Nesting rendered of a kvlist or array body; deeper values are elided.
MAX_RENDER_DEPTH = 8
ELIDED = "…"
_NEEDS_QUOTES = re.compile(r'[\s"=]')


def render_value(value: AnyValue) -> str:
    """Render an AnyValue as text: strings as they are, kvlists and arrays as compact JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return str(value.string_value)
    rendered = plain(value, 0)
    if isinstance(rendered, dict | list):
        return compact_json(rendered)
    if isinstance(rendered, bool):
        return "true" if rendered else "false"
    return "" if rendered is None else str(rendered)


def plain(value: AnyValue, depth: int) -> Any:
    """Return an AnyValue as a plain JSON-ready value; containers past the depth cap elided."""
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return kvlist(value.kvlist_value, depth) if depth < MAX_RENDER_DEPTH else ELIDED
    if kind == "array_value":
        if depth >= MAX_RENDER_DEPTH:
            return ELIDED
        return [plain(item, depth + 1) for item in value.array_value.values]
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind == "int_value":
        return int(value.int_value)
    if kind == "double_value":
        number = float(value.double_value)
        return number if math.isfinite(number) else str(number)
    if kind == "bytes_value":
        return bytes_text(bytes(value.bytes_value))
    return None


def kvlist(kvlist: KeyValueList, depth: int) -> dict[str, Any]:
    return {str(pair.key): plain(pair.value, depth + 1) for pair in kvlist.values}


def bytes_text(data: bytes) -> str:
    """Text that was sent as bytes reads as text; anything else as base64 (as OTLP/JSON has it)."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return base64.b64encode(data).decode()


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def is_empty(body: AnyValue) -> bool:
    return render_value(body).strip() in ("", "{}", "[]")


def contains(text: str, part: str) -> bool:
    """Tell whether text holds part, as it is or JSON-escaped (inside a kvlist body's string)."""
    return part in text or compact_json(part)[1:-1] in text


def with_fields(text: str, fields: dict[str, AnyValue]) -> str:
    """Add `key=value` for each field not already in the text, at the end of its first line."""
    parts: list[str] = []
    for key, value in fields.items():
        rendered = render_value(value).strip()
        if not rendered or rendered in text:
            continue
        quoted = _NEEDS_QUOTES.search(rendered)
        parts.append(f"{key}={compact_json(rendered) if quoted else rendered}")
    if not parts:
        return text
    first, newline, rest = text.partition("\n")
    return " ".join(filter(None, (first, *parts))) + newline + rest
