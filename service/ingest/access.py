"""Access-log lines: which request (method, path) got which status, from which client and user
agent where the line says, from uvicorn, gunicorn, common-log-format and Heroku router lines.
Paths are normalised so `/users/42` and `/users/7` are one endpoint."""

from __future__ import annotations

import re
from functools import lru_cache

import msgspec

# What every line `parse_access` reads holds: a quoted request line, or a router's fields.
ACCESS_LITERALS = (" HTTP/", "method=")
_QUOTED = re.compile(
    # uvicorn's `10.0.0.1:5432 - "GET ..."`, common log format's `10.0.0.1 - user [time] "GET ..."`
    r"(?:(?P<client>\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}?)"
    r"(?::\d{1,5})? - (?:\S{1,200} \[[^\]]{1,64}\] )?)?"
    r'"(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>[^ "]{1,2048}) HTTP/[\d.]+" '
    r"(?P<status>[1-5]\d\d)\b"
    # combined log format: bytes, "referer", "user agent"
    r'(?: \S{1,20} "[^"]{0,2048}" "(?P<agent>[^"]{0,500})")?'
)
# Each is matched where `str.find` found its name, which must start a word (`_field`).
_ROUTER = re.compile(r'method=(?P<method>[A-Z]+) path="(?P<path>[^"]{0,2048})"')
_ROUTER_STATUS = re.compile(r"status=(?P<status>[1-5]\d\d)\b")
_ROUTER_CLIENT = re.compile(r'fwd="(?P<client>[0-9a-fA-F.:]{2,45})')
_ID_SEGMENT = re.compile(
    r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,})(?=/|$)"
)


class Access(msgspec.Struct, frozen=True):
    """One request as an access log reports it."""

    method: str
    path: str
    status: int
    client: str = ""
    agent: str = ""

    @property
    def failed(self) -> bool:
        """Return True for a server error (5xx)."""
        return self.status >= 500

    @property
    def succeeded(self) -> bool:
        """Return True for a success (2xx)."""
        return 200 <= self.status < 300


@lru_cache(maxsize=4096)  # an app has a few hundred endpoints, called again and again
def normalise_path(path: str) -> str:
    """Return the path without its query, with id-like segments replaced by `{id}`."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    return _ID_SEGMENT.sub("/{id}", path)


def _field(pattern: re.Pattern[str], message: str, at: int) -> re.Match[str] | None:
    """Match a router field where its name starts a word, the first such place it matches at
    (`at`, where its name first occurs, or later): what `\\bname=...` would search for."""
    name = pattern.pattern[: pattern.pattern.index("=") + 1]
    while at >= 0:
        if at == 0 or not (message[at - 1].isalnum() or message[at - 1] == "_"):
            found = pattern.match(message, at)
            if found is not None:
                return found
        at = message.find(name, at + 1)
    return None


def parse_access(message: str) -> Access | None:
    """Return the request an access-log line reports, or None for any other line."""
    if " HTTP/" in message:
        match = _QUOTED.search(message)
        if match:
            return Access(
                match["method"],
                normalise_path(match["path"]),
                int(match["status"]),
                match["client"] or "",
                match["agent"] or "",
            )
    method_at, status_at = message.find("method="), message.find("status=")
    if method_at >= 0 and status_at >= 0:
        router = _field(_ROUTER, message, method_at)
        status = _field(_ROUTER_STATUS, message, status_at)
        if router and status:
            fwd_at = message.find("fwd=")
            client = _field(_ROUTER_CLIENT, message, fwd_at) if fwd_at >= 0 else None
            return Access(
                router["method"],
                normalise_path(router["path"]),
                int(status["status"]),
                client["client"] if client else "",
            )
    return None
