"""What every ingest route shares: the body within its limits, and accepting its entries.

Accepting is one step of CPU work and one wait. The step (in place on the event loop for a small
body, in one worker thread for a large or compressed one) undoes the Content-Encoding, refuses a
source already over its rate before anything is parsed, parses the body, makes the records per
source within the batch and rate limits, and hands them to the spool's group commit. The wait is
for that commit: nothing is answered 2xx before the lines are durable.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from service.db import utcnow
from service.errors import ApiError
from service.ingest.entries import BodyError, Entry, Parsed, line_count, to_records
from service.ingest.formats.caps import TOO_MANY, nonempty_byte_lines, within_lines
from service.ingest.records import LogRecord
from service.ingest.timestamps import ignored_times
from service.runtime import Runtime
from service.spool.store import SpoolError, SpoolFull
from service.spool.tally import TIME_OUT_OF_RANGE
from service.web.body import decode_content, read_limited
from service.web.deps import RuntimeDep

INGEST_PREFIXES = ("/drains/", "/v1/logs", "/loki/")
# A body up to this size, not compressed, is read on the event loop (about 500 lines, a few
# ms): a worker thread costs more than that work. Larger ones go to a worker thread, so that one
# big body never holds every other request (and `/healthz`) for its whole parse.
INLINE_BYTES = 64 * 1024
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]+")

Reader = Callable[[bytes], Parsed]


@dataclass(slots=True)
class Outcome:
    """What became of one request's entries."""

    accepted: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    duplicate: bool = False
    # Lines kept with their arrival time because their own was outside `SANE_YEARS`.
    times_ignored: int = 0
    times_ignored_by_source: Counter[str] = field(default_factory=Counter)

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


@dataclass(slots=True)
class Submitted:
    """A request's records handed to the spool, waiting for their commit."""

    outcome: Outcome
    groups: dict[str, list[LogRecord]]
    now: datetime
    durable: Future[bool]


def media_type(request: Request, default: str = "text/plain") -> str:
    """Return the request's media type, lowercased, without parameters."""
    value = request.headers.get("content-type") or default
    return value.split(";")[0].strip().lower()


async def wire_body(request: Request, runtime: RuntimeDep) -> bytes:
    """Return the raw request body within the wire limit (a dependency, so it runs after auth)."""
    settings = runtime.settings
    return await read_limited(request, settings.max_body_bytes, settings.body_timeout_seconds)


WireBody = Annotated[bytes, Depends(wire_body)]


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


async def accept_body(
    runtime: Runtime,
    request: Request,
    body: bytes,
    read: Reader,
    *,
    source: str,
    pinned: bool = True,
    logplex: bool = False,
    idempotency_key: str | None = None,
    declared_lines: int | None = None,
    expands: bool = False,
) -> Outcome:
    """Read a body with `read` and make its entries durable in the spool; return the outcome.

    `source` is the URL's or the token's source; unless `pinned`, an entry naming its own source
    goes there instead. A pinned source already over its rate is refused before the body is
    parsed, its lines counted as `declared_lines` (Logplex-Msg-Count) or as the body's non-empty
    lines. `expands` says the body inflates in `read` (snappy), so it is never read in place.
    """
    encoding = request.headers.get("content-encoding", "").strip().lower()

    def step() -> Submitted:
        data = decode_content(body, encoding, runtime.settings.max_decoded_bytes)
        if pinned:
            _refuse_if_in_debt(runtime, source, data, declared_lines, logplex=logplex)
        times_mark = ignored_times()
        try:
            parsed = read(data)
        except BodyError as error:
            raise bad_body(error) from error
        return submit(
            runtime,
            parsed,
            source=source,
            pinned=pinned,
            logplex=logplex,
            idempotency_key=idempotency_key,
            times_mark=times_mark,
        )

    in_place = not expands and encoding in ("", "identity") and len(body) <= INLINE_BYTES
    submitted = step() if in_place else await run_in_threadpool(step)
    return await durable(runtime, submitted)


def submit(
    runtime: Runtime,
    parsed: Parsed,
    *,
    source: str,
    pinned: bool,
    logplex: bool,
    idempotency_key: str | None,
    times_mark: int,
) -> Submitted:
    """Make the records of parsed entries and hand them to the spool (see `accept_body`).

    Over the batch limit, extra lines are counted and skipped; over a source's rate limit the
    whole request is refused (429, or 503 to a logplex sender, which drops a batch on any 4xx)
    and the refusal is put on the source's timeline as a data gap. `times_mark` is
    `ignored_times()` taken before the body was parsed, in this thread.
    """
    settings = runtime.settings
    outcome = Outcome(reasons=Counter(parsed.rejected))
    now = utcnow()
    groups: dict[str, list[LogRecord]] = {}
    room = settings.max_lines_per_batch
    # Times the body's reader ignored (a JSON time field) belong to the URL's or token's source.
    ignored = Counter({source: ignored_times() - times_mark})
    for name, all_entries in _by_source(parsed.entries, source, pinned=pinned).items():
        # Cut at the cap before parsing: a few KB of gzip can hold millions of lines.
        entries, over, room = within_lines(all_entries, room)
        if over:
            outcome.reasons[TOO_MANY] += over
        mark = ignored_times()
        records = to_records(
            entries,
            source=name,
            received_at=now,
            start_seq=runtime.reserve_seq(line_count(entries)),
            max_line_bytes=settings.max_line_bytes,
        )
        ignored[name] += ignored_times() - mark
        if records:
            groups[name] = records
    if source not in groups and ignored[source] and groups:
        ignored[next(iter(groups))] += ignored.pop(source)
    outcome.times_ignored_by_source = Counter(
        {name: count for name, count in ignored.items() if count and name in groups}
    )
    outcome.times_ignored = outcome.times_ignored_by_source.total()
    if not groups:
        detail = "the body holds no log lines"
        if outcome.reasons:
            detail += f" that could be used ({_reasons_text(outcome.reasons)})"
        raise ApiError(400, "empty", detail)
    _within_rate(runtime, groups, logplex=logplex)
    future = runtime.spool.submit_many(
        groups, received_at=now, idempotency_key=idempotency_key, key_scope=source
    )
    return Submitted(outcome, groups, now, future)


async def durable(runtime: Runtime, submitted: Submitted) -> Outcome:
    """Wait for the spool's commit of a request's records; return what was accepted."""
    outcome, groups, now = submitted.outcome, submitted.groups, submitted.now
    try:
        stored = await asyncio.wrap_future(submitted.durable)
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
        outcome.times_ignored = 0
        outcome.times_ignored_by_source.clear()
        return outcome
    for name, records in groups.items():
        metrics.lines_accepted.labels(source=name).inc(len(records))
        outcome.accepted += len(records)
    metrics.times_ignored.inc(outcome.times_ignored)
    if outcome.times_ignored_by_source:
        # Off the event loop: a write to the spool file waits for its lock behind a commit.
        await asyncio.to_thread(
            runtime.tally.add, TIME_OUT_OF_RANGE, outcome.times_ignored_by_source
        )
    return outcome


async def accept_labelled(
    runtime: Runtime,
    request: Request,
    body: bytes,
    read: Reader,
    grant_source: str | None,
    *,
    default_source: str,
    expands: bool = False,
) -> Outcome:
    """Accept entries whose payload names their sources (Loki labels, OTLP resources).

    A source's own token (`grant_source`) pins every entry to it; with the global token each
    entry goes to the source it names, else to `?source=`, else to `default_source`.
    """
    fallback = source_from_label(request.query_params.get("source", "")) or default_source
    return await accept_body(
        runtime,
        request,
        body,
        read,
        source=grant_source or fallback,
        pinned=grant_source is not None,
        expands=expands,
    )


def _by_source(entries: list[Entry], source: str, *, pinned: bool) -> dict[str, list[Entry]]:
    if pinned:
        return {source: entries}
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        name = source
        if entry.source:
            name = source_from_label(entry.source) or source
        groups.setdefault(name, []).append(entry)
    return groups


def _refuse_if_in_debt(
    runtime: Runtime, source: str, data: bytes, declared: int | None, *, logplex: bool
) -> None:
    """Refuse a batch before parsing it when its source's bucket is already empty.

    Whether a batch passes does not depend on its size (`RateLimiter`), so nothing is lost by
    deciding first; the refused lines are counted cheaply, without parsing.
    """
    wait = runtime.limiter.wait(source)
    if wait:
        lines = declared if declared is not None else nonempty_byte_lines(data)
        runtime.processor.refusals.note(source, lines, reason="rate limit", at=utcnow())
        raise _rate_limited(source, wait, logplex=logplex)


def _within_rate(runtime: Runtime, groups: dict[str, list[LogRecord]], *, logplex: bool) -> None:
    now = utcnow()
    for name, records in groups.items():
        wait = runtime.limiter.take(name, len(records))
        if not wait:
            continue
        for refused, held in groups.items():
            runtime.processor.refusals.note(refused, len(held), reason="rate limit", at=now)
        raise _rate_limited(name, wait, logplex=logplex)


def _rate_limited(source: str, wait: float, *, logplex: bool) -> ApiError:
    retry = str(max(1, math.ceil(wait)))
    detail = f"source {source!r} is over its rate limit; retry in {retry} s"
    # Heroku's logplex drops a batch on any 4xx, 429 included, but retries a 5xx.
    status = 503 if logplex else 429
    return ApiError(status, "rate_limited", detail, headers={"Retry-After": retry})


def _reasons_text(reasons: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
