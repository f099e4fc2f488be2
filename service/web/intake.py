"""What every ingest route shares: the token, the body within its limits, and accepting entries.

Accepting means: entries into records per source, the batch and rate limits, then one durable spool
write for the whole request; nothing is answered 2xx before that write returns.
"""

from __future__ import annotations

import hmac
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Annotated

from fastapi import Depends, Request

from service.db import utcnow
from service.errors import ApiError
from service.ingest.entries import BodyError, Entry, Parsed, line_count, to_records
from service.ingest.formats.caps import TOO_MANY, nonempty_lines
from service.ingest.records import LogRecord
from service.ingest.timestamps import ignored_times
from service.runtime import Runtime
from service.sources import SourceNameError, check_source_name
from service.spool.store import SpoolError, SpoolFull
from service.web.body import decode_content, read_limited
from service.web.deps import RuntimeDep, basic_credentials
from service.web.tokens import TokenUnchecked, source_for_token, token_cache, token_opens_source

INGEST_PREFIXES = ("/drains/", "/v1/logs", "/loki/")
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_LINE = re.compile(r"[^\r\n]+")


@dataclass(frozen=True, slots=True)
class Grant:
    """What a presented ingest token opens: every source (`source` None), or one source."""

    source: str | None


@dataclass(slots=True)
class Outcome:
    """What became of one request's entries."""

    accepted: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    duplicate: bool = False
    # Lines kept with their arrival time because their own was outside `SANE_YEARS`.
    times_ignored: int = 0

    @property
    def rejected(self) -> int:
        """Return how many entries or lines were counted and skipped."""
        return sum(self.reasons.values())

    def json(self) -> dict[str, object]:
        """Return the 202 answer's body."""
        body: dict[str, object] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
        }
        if self.duplicate:
            body["duplicate"] = True
        if self.times_ignored:
            body["times_ignored"] = self.times_ignored
        return body


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


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def _database_down() -> ApiError:
    return ApiError(
        503,
        "unavailable",
        "the token cannot be checked while the database is down",
        headers={"Retry-After": "5"},
    )


def _required_token(request: Request) -> str:
    token = presented_token(request)
    if token is None:
        raise _unauthorized("send the ingest token as Bearer, Basic password or ?token=")
    return token


def _is_global(token: str, runtime: Runtime) -> bool:
    expected = runtime.settings.ingest_token
    return bool(expected) and hmac.compare_digest(token.encode(), str(expected).encode())


def authorize_source(source: str, request: Request, runtime: RuntimeDep) -> str:
    """Return the source named in the URL when the token is valid for it; else 400 or 401."""
    try:
        check_source_name(source)
    except SourceNameError as error:
        raise ApiError(400, "bad_source", str(error)) from error
    token = _required_token(request)
    if _is_global(token, runtime):
        return source
    try:
        valid = token_opens_source(
            token_cache(request),
            runtime.engine,
            source,
            token,
            database_down=runtime.processor.state.database_down,
        )
    except TokenUnchecked as error:
        raise _database_down() from error
    if not valid:
        raise _unauthorized("the ingest token is not valid for this source")
    return source


def authorize_any(request: Request, runtime: RuntimeDep) -> Grant:
    """Return what the token opens, for routes whose payload names its sources; else 401.

    The global token lets the payload's labels choose the source; a source's own token sends
    everything to that source, whatever the labels say.
    """
    token = _required_token(request)
    if _is_global(token, runtime):
        return Grant(None)
    try:
        name = source_for_token(
            token_cache(request),
            runtime.engine,
            token,
            database_down=runtime.processor.state.database_down,
        )
    except TokenUnchecked as error:
        raise _database_down() from error
    if name is None:
        raise _unauthorized("the ingest token is not valid for any source")
    return Grant(name)


SourceGrant = Annotated[str, Depends(authorize_source)]
AnyGrant = Annotated[Grant, Depends(authorize_any)]


def media_type(request: Request, default: str = "text/plain") -> str:
    """Return the request's media type, lowercased, without parameters."""
    value = request.headers.get("content-type") or default
    return value.split(";")[0].strip().lower()


async def wire_body(request: Request, runtime: RuntimeDep) -> bytes:
    """Return the raw request body within the wire limit (a dependency, so it runs after auth)."""
    settings = runtime.settings
    return await read_limited(request, settings.max_body_bytes, settings.body_timeout_seconds)


WireBody = Annotated[bytes, Depends(wire_body)]


def decoded_body(body: bytes, request: Request, runtime: Runtime) -> bytes:
    """Return the body with its Content-Encoding undone, within the decoded limit."""
    encoding = request.headers.get("content-encoding", "")
    return decode_content(body, encoding, runtime.settings.max_decoded_bytes)


def unsupported(content_type: str, accepted: str) -> ApiError:
    """Return the 415 answer for a media type a route does not read."""
    return ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {content_type!r} is not supported here; send {accepted}",
    )


def bad_body(error: BodyError) -> ApiError:
    """Return the answer for a body that could not be read at all (413 for a bomb, else 400)."""
    status = 413 if error.code == "payload_too_large" else 400
    return ApiError(status, error.code, error.detail)


def source_from_label(label: str) -> str:
    """Return a label value as a source name ('' when nothing of it is usable)."""
    return _NOT_IN_NAMES.sub("-", label).strip("-._")[:100]


def accept(
    runtime: Runtime,
    parsed: Parsed,
    *,
    source: str,
    pinned: bool = True,
    logplex: bool = False,
    idempotency_key: str | None = None,
    times_mark: int | None = None,
) -> Outcome:
    """Make a request's entries durable in the spool and return what was accepted.

    `source` is the URL's or the token's source; unless `pinned`, an entry naming its own source
    goes there instead. Over the batch limit, extra lines are counted and skipped; over a source's
    rate limit the whole request is refused (429, or 503 to a logplex sender, which drops a
    batch on any 4xx) and the refusal is put on the source's timeline as a data gap.
    `times_mark` is `ignored_times()` taken before the body was parsed: the lines whose own time
    was out of range since then are counted in the answer and in `/metrics`.
    """
    if times_mark is None:
        times_mark = ignored_times()
    settings = runtime.settings
    outcome = Outcome(reasons=Counter(parsed.rejected))
    now = utcnow()
    groups: dict[str, list[LogRecord]] = {}
    room = settings.max_lines_per_batch
    for name, all_entries in _by_source(parsed.entries, source, pinned=pinned).items():
        # Cut at the cap before parsing: a few KB of gzip can hold millions of lines.
        entries, over, room = within_lines(all_entries, room)
        if over:
            outcome.reasons[TOO_MANY] += over
        records = to_records(
            entries,
            source=name,
            received_at=now,
            start_seq=runtime.reserve_seq(line_count(entries)),
            max_line_bytes=settings.max_line_bytes,
        )
        if records:
            groups[name] = records
    if not groups:
        detail = "the body holds no log lines"
        if outcome.reasons:
            detail += f" that could be used ({_reasons_text(outcome.reasons)})"
        raise ApiError(400, "empty", detail)
    _within_rate(runtime, groups, logplex=logplex)
    try:
        stored = runtime.spool.append_many(
            groups, received_at=now, idempotency_key=idempotency_key, key_scope=source
        )
    except SpoolError as error:
        full = isinstance(error, SpoolFull)
        why = "spool full" if full else "spool not writable"
        for name, records in groups.items():
            runtime.processor.refusals.note(name, len(records), reason=why, at=now)
        if full:
            raise ApiError(503, "spool_full", str(error), headers={"Retry-After": "10"}) from error
        raise ApiError(
            503,
            "unavailable",
            f"the batch could not be made durable: {error}",
            headers={"Retry-After": "5"},
        ) from error
    metrics = runtime.metrics
    for reason, count in outcome.reasons.items():
        metrics.lines_rejected.labels(reason=reason).inc(count)
    if not stored:
        metrics.batches_duplicate.inc()
        outcome.duplicate = True
        return outcome
    for name, records in groups.items():
        metrics.lines_accepted.labels(source=name).inc(len(records))
        outcome.accepted += len(records)
    outcome.times_ignored = ignored_times() - times_mark
    metrics.times_ignored.inc(outcome.times_ignored)
    return outcome


def accept_labelled(
    runtime: Runtime,
    parsed: Parsed,
    grant: Grant,
    request: Request,
    *,
    default_source: str,
    times_mark: int,
) -> Outcome:
    """Accept entries whose payload names their sources (Loki labels, OTLP resources).

    A source's own token pins every entry to it; with the global token each entry goes to the
    source it names, else to `?source=`, else to `default_source`.
    """
    fallback = source_from_label(request.query_params.get("source", "")) or default_source
    return accept(
        runtime,
        parsed,
        source=grant.source or fallback,
        pinned=grant.source is not None,
        times_mark=times_mark,
    )


def within_lines(entries: list[Entry], room: int) -> tuple[list[Entry], int, int]:
    """Return the entries that hold at most `room` lines, the lines left out, and the room left.

    Lines are counted as they will be parsed (non-empty ones), so what is kept never makes more
    than `room` records. The entry that runs past `room` is cut after its last line within it;
    what follows is counted, never parsed.
    """
    kept: list[Entry] = []
    over = 0
    for entry in entries:
        lines = nonempty_lines(entry.message)
        if lines <= room:
            kept.append(entry)
            room -= lines
            continue
        over += lines - room
        if room:
            head, _ = _split_after_lines(entry.message, room)
            kept.append(replace(entry, message=head))
            room = 0
    return kept, over, room


def _split_after_lines(text: str, count: int) -> tuple[str, str]:
    """Split `text` after its `count`-th non-empty line."""
    end = 0
    for end_match in islice(_LINE.finditer(text), count):
        end = end_match.end()
    return text[:end], text[end:]


def _by_source(entries: list[Entry], source: str, *, pinned: bool) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        name = source
        if not pinned and entry.source:
            name = source_from_label(entry.source) or source
        groups.setdefault(name, []).append(entry)
    return groups


def _within_rate(runtime: Runtime, groups: dict[str, list[LogRecord]], *, logplex: bool) -> None:
    now = utcnow()
    for name, records in groups.items():
        wait = runtime.limiter.take(name, len(records))
        if not wait:
            continue
        for refused, held in groups.items():
            runtime.processor.refusals.note(refused, len(held), reason="rate limit", at=now)
        retry = str(max(1, math.ceil(wait)))
        detail = f"source {name!r} is over its rate limit; retry in {retry} s"
        # Heroku's logplex drops a batch on any 4xx, 429 included, but retries a 5xx.
        status = 503 if logplex else 429
        raise ApiError(status, "rate_limited", detail, headers={"Retry-After": retry})


def _reasons_text(reasons: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
