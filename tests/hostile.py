"""Hostile HTTP requests as hypothesis strategies: every ingest endpoint, every body shape a broken
or malicious sender makes (random bytes, truncated gzip, wrong and missing content types, deep or
huge JSON, invalid UTF-8, NULs, absurd times, mixed good and bad lines), and the pages and API with
odd query strings. Shared by `tests/test_hostile_http.py` (short) and `bench/fuzz.py` (long)."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field

from hypothesis import strategies as st

GOOD_LINES = [
    "2025-09-19 12:43:14,551 ERROR app: NameError: name 'logger' is not defined",
    '10.0.0.1 - - [19/Sep/2025:12:43:15 +0000] "GET /api/items HTTP/1.1" 200 12',
    "2025-10-02 10:02:14,551 WARNING [DB_DOWN] op=sync try=1/5 sleep=2s reason=X",
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 3, in <module>',
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called",
    "==> Port scan timeout reached, no open HTTP ports detected",
    'at=error code=H12 desc="Request timeout" method=GET path="/" status=503',
]
TIMES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2025-09-19T12:43:14.551Z",
    "-1",
    "1e308",
    "99999999999999999999",
    "NaN",
    "2025-13-45T99:99:99Z",
    "",
]
CONTENT_TYPES = [
    "text/plain",
    "text/plain; charset=latin-1",
    "application/logplex-1",
    "application/x-logplex-1",
    "application/json",
    "application/x-ndjson",
    "application/x-protobuf",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "text/html",
    ";;;",
    "",
]
PATHS = ["/drains/api", "/drains/api2", "/loki/api/v1/push", "/v1/logs", "/drains/%00", "/drains/"]


@dataclass(frozen=True)
class HostileRequest:
    """One request: method, path, headers and body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __repr__(self) -> str:
        return f"{self.method} {self.path} {self.headers} {self.body[:200]!r}"


text_junk = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200
) | st.sampled_from(["\x00", "\x1b[31m", "\ud7ff", "\r", "\u2028", "<script>alert(1)</script>"])


def _json_value(depth_limit: int = 4) -> st.SearchStrategy[object]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text_junk
        | st.sampled_from(GOOD_LINES + TIMES)
    )
    keys = st.sampled_from(
        [
            "message",
            "msg",
            "log",
            "line",
            "text",
            "timestamp",
            "@timestamp",
            "time",
            "ts",
            "level",
            "labels",
            "streams",
            "stream",
            "values",
            "resourceLogs",
            "logs",
            "hasMore",
            "source",
            "service",
            "dyno",
            "host",
            "x",
        ]
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=20,
    )


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Return a body of any shape, good, bad or mixed."""
    kind = draw(
        st.sampled_from(
            [
                "bytes",
                "text",
                "mixed",
                "json",
                "ndjson",
                "deep",
                "logplex",
                "loki",
                "otlp",
                "render",
                "huge-number",
                "invalid-utf8",
            ]
        )
    )
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "text":
        return draw(text_junk).encode("utf-8", errors="surrogatepass")
    if kind == "mixed":
        lines = draw(st.lists(st.sampled_from(GOOD_LINES) | text_junk, max_size=12))
        return "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if kind == "json":
        return json.dumps(draw(_json_value())).encode()
    if kind == "ndjson":
        parts = draw(
            st.lists(
                st.builds(json.dumps, _json_value())
                | st.sampled_from(['{"message": "x"', "}{", "[", "null", '{"msg": 1e999}']),
                max_size=8,
            )
        )
        return "\n".join(parts).encode()
    if kind == "deep":
        depth = draw(st.integers(min_value=50, max_value=100_000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        return (opener * depth).encode()
    if kind == "logplex":
        frames = []
        for line in draw(st.lists(st.sampled_from(GOOD_LINES) | text_junk, max_size=6)):
            frame = f"<190>1 {draw(st.sampled_from(TIMES))} host app web.1 - {line}\n".encode(
                errors="surrogatepass"
            )
            length = draw(st.sampled_from([len(frame), len(frame) + 7, 0, 10**12, -3]))
            frames.append(b"%d %s" % (length, frame))
        return b"".join(frames)
    if kind == "loki":
        values = draw(
            st.lists(
                st.tuples(st.sampled_from([*TIMES, "1700000000000000000"]), text_junk), max_size=4
            )
        )
        labels = draw(
            st.dictionaries(st.sampled_from(["job", "app", "service", "x"]), text_junk, max_size=3)
        )
        return json.dumps(
            {"streams": [{"stream": labels, "values": [list(v) for v in values]}]}
        ).encode()
    if kind == "otlp":
        record = {
            "timeUnixNano": draw(st.sampled_from(TIMES)),
            "body": {"stringValue": draw(text_junk)},
        }
        resource = {
            "attributes": [{"key": "service.name", "value": {"stringValue": draw(text_junk)}}]
        }
        return json.dumps(
            {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
        ).encode()
    if kind == "render":
        logs = [
            {
                "id": draw(text_junk),
                "message": draw(st.sampled_from(GOOD_LINES) | text_junk),
                "timestamp": draw(st.sampled_from(TIMES)),
                "labels": [{"name": "level", "value": draw(text_junk)}],
            }
            for _ in range(draw(st.integers(0, 3)))
        ]
        return json.dumps({"logs": logs, "hasMore": False}).encode()
    if kind == "huge-number":
        return b'{"message": "x", "timestamp": ' + b"9" * draw(st.integers(1, 5000)) + b"}"
    return b"\xff\xfe" + draw(st.binary(max_size=100)) + b"\xc3\x28 ERROR boom"


@st.composite
def encoded(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """Return a body with a Content-Encoding, right, wrong or truncated."""
    body = draw(bodies())
    how = draw(st.sampled_from(["none", "gzip", "truncated-gzip", "lying-gzip", "deflate", "br"]))
    if how == "none":
        return body, {}
    if how == "gzip":
        return gzip.compress(body), {"Content-Encoding": "gzip"}
    if how == "truncated-gzip":
        packed = gzip.compress(body)
        return packed[: draw(st.integers(0, max(0, len(packed) - 1)))], {"Content-Encoding": "gzip"}
    if how == "lying-gzip":
        return body, {"Content-Encoding": "gzip"}
    if how == "deflate":
        return zlib.compress(body), {"Content-Encoding": "deflate"}
    return body, {"Content-Encoding": draw(st.sampled_from(["br", "zstd", "gzip, gzip", "x"]))}


@st.composite
def ingest_requests(draw: st.DrawFn, token: str) -> HostileRequest:
    """Return a POST to an ingest endpoint."""
    body, headers = draw(encoded())
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type:
        headers["Content-Type"] = content_type
    auth = draw(st.sampled_from(["bearer", "bearer", "none", "wrong", "basic", "query"]))
    path = draw(st.sampled_from(PATHS))
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "wrong":
        headers["Authorization"] = draw(
            st.sampled_from(["Bearer x", "Basic !!!", "Bearer", "Digest a"])
        )
    elif auth == "basic":
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(f"drain:{token}".encode()).decode()
    elif auth == "query":
        path += f"?token={token}"
    if draw(st.booleans()):
        headers["Logplex-Msg-Count"] = draw(
            st.sampled_from(["1", "-1", "x", "99999999999999999999"])
        )
        headers["Logplex-Frame-Id"] = draw(st.sampled_from(["a", "", "\u00e9", "k" * 300]))
    if "?" not in path and draw(st.booleans()):
        path += "?source=" + draw(st.sampled_from(["web", "a/b", "%00", "x" * 200, ""]))
    return HostileRequest("POST", path, headers, body)


@st.composite
def read_requests(draw: st.DrawFn) -> HostileRequest:
    """Return a GET of a page or an API path with odd parameters."""
    path = draw(
        st.sampled_from(
            [
                "/",
                "/incidents",
                "/incidents/1",
                "/incidents/999999999999999999999",
                "/incidents/x",
                "/sources",
                "/patterns",
                "/api/sources",
                "/api/sources/api",
                "/api/sources/%00",
                "/api/incidents",
                "/api/incidents/1",
                "/api/incidents/-1",
                "/incidents/1/report.md",
                "/api/outages",
                "/healthz",
                "/metrics",
                "/login",
            ]
        )
    )
    query = draw(
        st.sampled_from(
            [
                "",
                "?status=open",
                "?status=%00",
                "?limit=0",
                "?limit=99999999999999999999",
                "?source=%ff",
                "?next=//evil",
                "?signature=" + "a" * 5000,
                "?page=-1",
            ]
        )
    )
    return HostileRequest("GET", path + query)
