"""Pull a Render service's logs from the Render logs API (`GET /v1/logs`) into the spool.

For services that cannot open a port for a log stream. Pages go forward in time from the last log
seen (kept in the spool beside the batches, moved in the same transaction), each log stored once
by its `id`, and a 429 is waited out (its `Retry-After`, else a doubling pause). A page is read
like a body posted to `/drains/NAME`: the same log objects, labels and records.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.ingest.entries import to_records
from service.ingest.formats.jsonbody import read_object
from service.ingest.records import LogRecord
from service.settings import Settings
from service.spool.store import Spool

log = logging.getLogger("drainwatch.pull")
API_URL = "https://api.render.com/v1"
PAGE_LIMIT = 100
FIRST_LOOK_BACK = timedelta(hours=1)
"""How far back the first pull of a service reaches (the API's own default range)."""

Response = tuple[int, dict[str, str], bytes]
Transport = Callable[[str, dict[str, str]], Response]


class PullError(Exception):
    """The logs API answered something other than a page of logs."""


class RateLimited(PullError):
    """The logs API said 429: wait `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


def http_get(url: str, headers: dict[str, str]) -> Response:
    """GET `url`; return status, headers and body (error statuses included)."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (https or the settings' URL)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@dataclass(frozen=True)
class RenderService:
    """One service to pull: its id, the workspace (owner) it belongs to, the source it feeds."""

    service: str
    owner: str
    source: str

    @property
    def cursor_name(self) -> str:
        """Return the spool meta name of this pull's position."""
        return f"pull:render:{self.service}"


@dataclass
class PullResult:
    """What one pull did."""

    pages: int = 0
    logs: int = 0
    new: int = 0
    cursor: datetime | None = None


class RenderPuller:
    """Pages the logs API forward for one service and stores what it has not stored before."""

    def __init__(
        self,
        target: RenderService,
        *,
        api_key: str,
        spool: Spool,
        api_url: str = API_URL,
        transport: Transport = http_get,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_pages: int = 50,
    ) -> None:
        self.target = target
        self.api_key = api_key
        self.spool = spool
        self.api_url = api_url.rstrip("/")
        self.transport = transport
        self.clock = clock
        self.max_pages = max_pages

    def position(self) -> datetime | None:
        """Return the time of the last log stored, or None before the first pull."""
        value = self.spool.meta(self.target.cursor_name)
        return datetime.fromisoformat(value) if value else None

    def pull(self, *, since: datetime | None = None) -> PullResult:
        """Fetch every page from the last log stored (or `since`) to now; store the new logs."""
        now = self.clock()
        result = PullResult(cursor=self.position())
        # Later pages ask for the times the API itself gave, as it gave them.
        start = _rfc3339(result.cursor or since or now - FIRST_LOOK_BACK)
        end = _rfc3339(now)
        while result.pages < self.max_pages:
            page = self._page(start, end)
            result.pages += 1
            logs = page.get("logs")
            logs = logs if isinstance(logs, list) else []
            result.logs += len(logs)
            keyed, latest = self._records(logs, now)
            cursor = (
                latest if result.cursor is None or (latest and latest > result.cursor) else None
            )
            result.new += self.spool.append_keyed(
                self.target.source,
                keyed,
                received_at=now,
                cursor=(self.target.cursor_name, cursor.isoformat()) if cursor else None,
            )
            if cursor is not None:
                result.cursor = cursor
            following, until = page.get("nextStartTime"), page.get("nextEndTime")
            if page.get("hasMore") is not True or not isinstance(following, str) or not following:
                break
            start, end = following, until if isinstance(until, str) and until else end
        return result

    def _page(self, start: str, end: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(
            {
                "ownerId": self.target.owner,
                "resource": self.target.service,
                "direction": "forward",
                "startTime": start,
                "endTime": end,
                "limit": PAGE_LIMIT,
            }
        )
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        status, answer_headers, body = self.transport(f"{self.api_url}/logs?{query}", headers)
        if status == 429:
            raise RateLimited(_retry_after(answer_headers))
        if status != 200:
            detail = body[:200].decode("utf-8", errors="replace")
            raise PullError(f"Render logs API answered {status}: {detail}")
        try:
            page = json.loads(body)
        except ValueError as error:
            raise PullError(f"Render logs API answered no JSON: {error}") from error
        if not isinstance(page, dict):
            raise PullError("Render logs API answered JSON that is no page of logs")
        return page

    def _records(
        self, logs: list[Any], now: datetime
    ) -> tuple[list[tuple[str, list[LogRecord]]], datetime | None]:
        keyed: list[tuple[str, list[LogRecord]]] = []
        latest: datetime | None = None
        seq = time.time_ns() // 1000
        for item in logs:
            if not isinstance(item, dict):
                continue
            entry = read_object(item)
            if entry is None:
                continue
            key = str(item.get("id") or "") or f"{item.get('timestamp')}\x1f{entry.message}"
            records = to_records([entry], source=self.target.source, received_at=now, start_seq=seq)
            seq += len(records)
            keyed.append((key[:200], records))
            if entry.time is not None and (latest is None or entry.time > latest):
                latest = entry.time
        return keyed, latest


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _retry_after(headers: dict[str, str]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return min(max(float(value), 1.0), 3600.0)
            except ValueError:
                break
    return 60.0


def pullers_from_settings(settings: Settings, spool: Spool) -> list[RenderPuller]:
    """Return a puller for each service of `render_services`, or none when the settings lack the
    API key or the workspace (owner) id."""
    if not settings.render_api_key or not settings.render_owner_id:
        return []
    return [
        RenderPuller(
            RenderService(service=service, owner=settings.render_owner_id, source=source),
            api_key=settings.render_api_key,
            spool=spool,
            api_url=settings.render_api_url,
        )
        for service, source in settings.render_targets
    ]


class RenderPoller:
    """The background pull of every service in the settings, one step per poll interval; a 429
    pauses its service for as long as the API asks."""

    def __init__(self, pullers: list[RenderPuller], *, clock: Callable[[], float] = time.monotonic):
        self.pullers = pullers
        self.clock = clock
        self.last_error = ""
        self._not_before: dict[str, float] = {}

    def step(self) -> int:
        """Pull each service that is not waiting out a rate limit; return the new logs stored."""
        new = 0
        errors = []
        for puller in self.pullers:
            service = puller.target.service
            if self.clock() < self._not_before.get(service, 0.0):
                continue
            try:
                result = puller.pull()
            except RateLimited as error:
                self._not_before[service] = self.clock() + error.retry_after
                log.warning("render pull %s: %s", service, error)
                continue
            except (PullError, OSError) as error:
                errors.append(f"{service}: {error}")
                log.warning("render pull %s failed: %s", service, error)
                continue
            new += result.new
            if result.new:
                log.info(
                    "render pull %s: %d new log(s) in %d page(s)", service, result.new, result.pages
                )
        self.last_error = "; ".join(errors)[:500]
        return 0  # wait the poll interval even after new logs: the API allows 30 calls a minute
