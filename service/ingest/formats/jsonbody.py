"""JSON bodies (`application/json` and `application/x-ndjson`, read alike): one object, an array of
objects, NDJSON, an array per line, or objects back to back, pretty-printed or not.

Shippers and what they send:
- `render logs -o json` (Render CLI): Go's `json.MarshalIndent` of each log, back to back with no
  separator (`}{`), `{"id", "labels": [{"name", "value"}], "message", "timestamp"}`; the labels
  `instance`, `type` (app, request, build, deploy...) and `level` name the entry's fields.
- Vector's `http` sink with the `json` codec: an array (`application/json`) or NDJSON
  (`newline_delimited` framing) of events: `message`, `timestamp`, `host`, `source_type`, plus the
  source's fields (`file`, Docker's `container_name`, `kubernetes.pod_name`...).
- Fluent Bit's `http` output, `format json` (an array), `json_lines` or `json_stream`: the line in
  `log`, the time in `date` (epoch seconds as a float, or ISO 8601 with `json_date_format`).
- Logstash's `http` output, `format => json` (one object) or `json_batch` (an array): `@timestamp`,
  `message`, `host` (a string, or `{"name": ...}` in ECS mode), `[log][level]`.
- Datadog's log intake shape: `message`, `status` (the level), `hostname`, `service`, `ddsource`,
  `timestamp` in epoch milliseconds.
- Heroku-style objects whose message is itself a syslog line: the message is parsed as text
  downstream, like every entry's.

A stretch that is not JSON is counted (`bad_json`) and reading goes on at the next line that starts
a value, so one bad line never costs the good ones. Pure: bytes in, entries out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from service.ingest.entries import BodyError, Entry, Parsed
from service.ingest.formats.caps import TOO_MANY, nonempty_lines
from service.ingest.normalise import decode_bytes
from service.ingest.structured import LEVEL_KEYS, record_exception, record_time

# The contract's field names for the text, in the order they are tried.
MESSAGE_KEYS = ("message", "log", "msg", "line", "text")
# Where the instance is named when Render's `instance` label is not there (dotted: nested).
INSTANCE_KEYS = (
    *("dyno", "instance", "hostname", "host", "host.name", "host.hostname"),
    *("kubernetes.pod_name", "container_name", "pod"),
)
# Datadog names the level `status`; it is tried last, as access logs use it for the HTTP status.
LEVEL_FIELDS = (*LEVEL_KEYS, "status")
# A `stream` or `type` field names the entry's stream only when it is one of these (not Docker's
# stdout or stderr).
STREAM_WORDS = frozenset(("app", "router", "build", "deploy", "request"))
STREAM_KEYS = ("stream", "type")
# Envelope fields are short names; a longer value is cut (an instance is stored in 200 characters).
MAX_TOKEN = 200

# JSON's own whitespace (what `json` skips between tokens).
_SPACE = re.compile(r"[ \t\n\r]*")
# Where reading resumes after a bad stretch: a line that starts a value in column 0 (NDJSON, the
# first of pretty-printed objects), or the `}{` line where Go's pretty-printed objects meet. A raw
# newline never occurs inside a JSON string, so these never fall inside a string.
_RESYNC = re.compile(r"\n(?:[}\]][ \t]*)?(?=[{\[])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Past 308 digits an integer no longer fits a float (and past 4300 `int` refuses it): a longer one
# is read as a float (infinity), so a huge number in one field costs neither the record nor a time
# lookup (`float(int)` would overflow).
_MAX_INT_DIGITS = 300


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)


def parse_json_body(data: bytes, *, max_entries: int | None = None) -> Parsed:
    """Read a JSON or NDJSON body into one entry per log object.

    Values that are not JSON count as `bad_json`, array items that are neither an object nor a
    string as `not_an_object` (a string is taken as a line), objects without a message or a
    traceback as `no_message`. A body with no readable JSON value at all is a `BodyError`.
    Past `max_entries` items (an array's each count) reading stops: what is left of the body
    is counted as `too_many_lines` by its lines, never decoded.
    """
    text = decode_bytes(data)
    budget = Budget(max_entries)
    values, bad, problem = read_values(text, budget)
    if not values:
        detail = problem or "the body is empty: expected a JSON object, an array or NDJSON"
        raise BodyError("bad_json", f"no JSON value could be read: {detail}")
    parsed = Parsed()
    if bad:
        parsed.rejected["bad_json"] = bad
    if budget.stopped_at >= 0:
        parsed.rejected[TOO_MANY] += max(1, nonempty_lines(text[budget.stopped_at :]))
    for value in values:
        for item in _items(value):
            if max_entries is not None and len(parsed.entries) >= max_entries:
                parsed.rejected[TOO_MANY] += 1  # the logs of one Render page past the cap
                continue
            entry, reason = read_item(item)
            if entry is None:
                parsed.rejected[reason] += 1
            else:
                parsed.entries.append(entry)
    return parsed


RENDER_PAGE_KEYS = ("hasMore", "nextStartTime", "nextEndTime")


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    """Return the log objects a value holds: an array's items, the `logs` of a Render logs API
    page (`{"logs": [...], "hasMore", "nextStartTime", "nextEndTime"}`), or the value itself."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        logs = value.get("logs")
        if isinstance(logs, list) and any(key in value for key in RENDER_PAGE_KEYS):
            return logs
    return (value,)


@dataclass(slots=True)
class Budget:
    """How many items may still be read (None: no cap), and where reading stopped at the cap."""

    left: int | None = None
    stopped_at: int = -1

    def spent(self, position: int) -> bool:
        """Tell whether the cap is reached; if so, note that reading stopped at `position`."""
        if self.left is not None and self.left <= 0 and self.stopped_at < 0:
            self.stopped_at = position
        return self.stopped_at >= 0


def read_values(text: str, budget: Budget | None = None) -> tuple[list[Any], int, str]:
    """Decode the JSON values of a text, one after another, skipping the stretches that are not.

    Returns the values, the number of bad stretches and a description of the first problem.
    After a bad stretch the text is read region by region (from one resync point to the next),
    and back in one piece once a region reads cleanly, so the time stays linear in the text.
    With a `budget`, an array is read item by item and reading stops once it is spent.
    """
    budget = budget or Budget()
    values: list[Any] = []
    bad = 0
    problem = ""
    position = _skip_space(text, 0)
    while position < len(text) and not budget.spent(position):
        try:
            value, end = _decode(text, position, budget)
        except (ValueError, RecursionError) as error:
            bad += 1
            problem = problem or _describe(error, text, position)
            recovered, more_bad, position = _recover(text, position, budget)
            values.extend(recovered)
            bad += more_bad
            continue
        values.append(value)
        position = _skip_space(text, end)
    return values, bad, problem


def read_item(item: Any) -> tuple[Entry | None, str]:
    """Make the entry of one JSON value, or say why it has none (the `rejected` reason)."""
    if isinstance(item, dict):
        entry = read_object(item)
        return (entry, "") if entry is not None else (None, "no_message")
    if isinstance(item, str):
        line = _clean(item.rstrip("\r\n"))
        return (Entry(message=line), "") if line.strip() else (None, "no_message")
    return None, "not_an_object"


def read_object(record: dict[str, Any]) -> Entry | None:
    """Make the entry of one log object; None when it holds neither a message nor a traceback."""
    message = object_message(record)
    if message is None:
        return None
    labels = render_labels(record)
    return Entry(
        message=message,
        time=record_time(record),
        instance=_token(labels.get("instance", "")) or _first_token(record, INSTANCE_KEYS),
        stream=object_stream(record, labels),
        level=_first_token(record, LEVEL_FIELDS, words=True) or _token(labels.get("level", "")),
    )


def object_message(record: dict[str, Any]) -> str | None:
    """Return the text of a log object: its message, then its traceback if it holds one apart.

    A message that is itself an object (Vector's parsed JSON) is written as compact JSON, for the
    JSON log line reader downstream. An object without a message but with a traceback (or
    structlog's `event`) is a structured app log: the whole object is written as compact JSON.
    """
    text = _message_field(record)
    exception = record_exception(record)
    if text is None:
        if exception or isinstance(record.get("event"), str):
            text = _compact(record)
        return _clean(text) if text and text.strip() else None
    text = text.rstrip("\r\n")  # Docker's and Fluent Bit's `log` keeps the line's newline
    if exception and exception.strip() not in text:
        text = f"{text}\n{exception}" if text.strip() else exception
    return _clean(text) if text.strip() else None


def render_labels(record: dict[str, Any]) -> dict[str, str]:
    """Return Render's labels (`[{"name": "instance", "value": ...}, ...]`) as a mapping."""
    labels = record.get("labels")
    if not isinstance(labels, list):
        return {}
    found: dict[str, str] = {}
    for label in labels:
        if isinstance(label, dict):
            name, value = label.get("name"), label.get("value")
            if isinstance(name, str) and isinstance(value, str):
                found.setdefault(name, value)
    return found


def object_stream(record: dict[str, Any], labels: dict[str, str]) -> str:
    """Return the stream: Render's `type` label (lowercased), else a `stream`/`type` word."""
    kind = _token(labels.get("type", "")).lower()
    if kind:
        return kind
    for key in STREAM_KEYS:
        value = record.get(key)
        if isinstance(value, str) and (word := value.strip().lower()) in STREAM_WORDS:
            return word
    return ""


def _message_field(record: dict[str, Any]) -> str | None:
    """Return the first message field that is a string (or an object, as compact JSON)."""
    for key in MESSAGE_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            return value
        # ECS keeps metadata under `log` (`log.level`, `log.file.path`): never the message.
        if isinstance(value, dict) and key != "log" and (text := _compact(value)) is not None:
            return text
    return None


def _compact(value: Any) -> str | None:
    """Write a value as compact JSON; None if it is nested too deep to write back."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):
        return None


def _lookup(record: dict[str, Any], key: str) -> Any:
    """Return a field by name, a dotted name being tried whole, then as a path of objects."""
    if key in record or "." not in key:
        return record.get(key)
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _first_token(record: dict[str, Any], keys: tuple[str, ...], *, words: bool = False) -> str:
    """Return the first of `keys` whose value is a non-blank string (with `words`: not a number)."""
    for key in keys:
        value = _lookup(record, key)
        if isinstance(value, str) and (token := _token(value)):
            if words and not any(character.isalpha() for character in token):
                continue
            return token
    return ""


def _token(value: str) -> str:
    """Make an envelope field safe: stripped, control characters dropped, cut to `MAX_TOKEN`."""
    if _CONTROL.search(value) is not None:
        value = _CONTROL.sub("", value)
    return _clean(value.strip()[:MAX_TOKEN])


def _clean(text: str) -> str:
    """Replace the lone surrogates a JSON `\\ud800` escape can make (they cannot be encoded)."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match is not None else position


def _next_resync(text: str, position: int) -> int:
    """Return the next point after `position` where a value may start, or the end of the text."""
    match = _RESYNC.search(text, position)
    return match.end() if match is not None else len(text)


def _decode(text: str, position: int, budget: Budget, offset: int = 0) -> tuple[Any, int]:
    """Decode the value at `position`, spending the budget: an array item by item.

    An array cut short by the cap comes back as the items read, `budget.stopped_at` set to
    where the next item starts (plus `offset`, for a region of a larger text).
    """
    if budget.left is None:
        return _DECODER.raw_decode(text, position)
    if not text.startswith("[", position):
        value, end = _DECODER.raw_decode(text, position)
        budget.left -= 1
        return value, end
    left = budget.left
    try:
        return _decode_array(text, position, budget, offset)
    except (ValueError, RecursionError):
        budget.left = left
        raise


def _decode_array(text: str, position: int, budget: Budget, offset: int) -> tuple[list[Any], int]:
    """Decode the array at `position` as `json` does, one item at a time (see `_decode`)."""
    items: list[Any] = []
    index = _skip_space(text, position + 1)
    if text.startswith("]", index):
        return items, index + 1
    while True:
        item, index = _DECODER.raw_decode(text, index)
        items.append(item)
        budget.left = (budget.left or 0) - 1
        index = _skip_space(text, index)
        if text.startswith("]", index):
            return items, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip_space(text, index + 1)
        if budget.spent(index + offset):
            return items, len(text)


def _recover(text: str, position: int, budget: Budget) -> tuple[list[Any], int, int]:
    """Read on after a bad stretch at `position`, one region (resync point to the next) at a time.

    Returns the values read, the bad regions counted and where to go on reading the text whole:
    the end of the first region that reads cleanly, or the end of the text.
    """
    values: list[Any] = []
    bad = 0
    start = _next_resync(text, position)
    while start < len(text) and not budget.spent(start):
        end = _next_resync(text, start)
        region_values, clean = _read_region(text[start:end], budget, start)
        values.extend(region_values)
        if clean or budget.stopped_at >= 0:
            return values, bad, end
        bad += 1
        start = end
    return values, bad, len(text)


def _read_region(region: str, budget: Budget, offset: int) -> tuple[list[Any], bool]:
    """Decode the values of one region; the flag tells whether it read to its end cleanly."""
    values: list[Any] = []
    position = _skip_space(region, 0)
    while position < len(region) and not budget.spent(position + offset):
        try:
            value, end = _decode(region, position, budget, offset)
        except (ValueError, RecursionError):
            return values, False
        values.append(value)
        position = _skip_space(region, end)
    return values, True


def _describe(error: ValueError | RecursionError, text: str, position: int) -> str:
    """Say what went wrong where, for the `BodyError` of a body with nothing readable."""
    if isinstance(error, json.JSONDecodeError):
        return str(error)  # "Expecting value: line 1 column 1 (char 0)"
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    what = "it is nested too deep" if isinstance(error, RecursionError) else str(error)[:200]
    return f"the value at line {line} column {column} (char {position}) cannot be read: {what}"
