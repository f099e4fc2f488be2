"""Access lines in the shapes servers print them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest import access
from service.ingest.access import Access, normalise_path, parse_access


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '10.16.2.5:0 - "POST /api/v1/auth/refresh HTTP/1.1" 500 Internal Server Error',
            Access("POST", "/api/v1/auth/refresh", 500, "10.16.2.5"),
        ),
        (
            '10.0.0.1 - - [19/Sep/2025:12:43:14 +0000] "GET /api/v1/users/42?x=1 HTTP/1.1" 200 512 "-" "curl/8"',
            Access("GET", "/api/v1/users/{id}", 200, "10.0.0.1", "curl/8"),
        ),
        (
            'at=error code=H12 desc="Request timeout" method=GET path="/api/reports/9f1c2a3b4c5d6e7f8a9b" host=x.herokuapp.com request_id=a fwd="1.2.3.4" dyno=web.1 connect=0ms service=30000ms status=503 bytes=0',
            Access("GET", "/api/reports/{id}", 503, "1.2.3.4"),
        ),
        (
            'INFO:     ::1:0 - "GET /healthz HTTP/1.1" 200 OK',
            Access("GET", "/healthz", 200, "::1"),
        ),
        (
            '10.0.0.2 - - [06/Oct/2025:09:13:09 +0000] "GET /health HTTP/1.1" 200 2 "-" "Render/1.0"',
            Access("GET", "/health", 200, "10.0.0.2", "Render/1.0"),
        ),
        (
            '"DELETE /items/3fa85f64-5717-4562-b3fc-2c963f66afa6 HTTP/2" 204',
            Access("DELETE", "/items/{id}", 204),
        ),
    ],
)
def test_requests_are_parsed(line: str, expected: Access) -> None:
    assert parse_access(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Application startup complete.",
        'GET /health returned "OK"',
        "status=500 without a method",
        '"BREW /pot HTTP/1.1" 418',
    ],
)
def test_other_lines_are_not_requests(line: str) -> None:
    assert parse_access(line) is None


def test_paths_keep_their_words() -> None:
    assert normalise_path("/api/v1/auth/me") == "/api/v1/auth/me"
    assert normalise_path("/v2/orders/123/items/456") == "/v2/orders/{id}/items/{id}"


_PIECES = [
    "method=GET", "method=get", "xmethod=POST", "_method=PUT", "é method=DELETE", ' path="/a/1"',
    'path="/b"', "status=200", "status=5000", "substatus=404", "status=503", ' fwd="1.2.3.4"',
    'xfwd="9.9.9.9"', " ", "=", " at=info", '"',
]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8))
def test_router_fields_are_found_where_a_word_boundary_search_finds_them(pieces: list[str]) -> None:
    line = "".join(pieces)
    searches = {
        access._ROUTER: re.compile(r'\bmethod=(?P<method>[A-Z]+) path="(?P<path>[^"]{0,2048})"'),
        access._ROUTER_STATUS: re.compile(r"\bstatus=(?P<status>[1-5]\d\d)\b"),
        access._ROUTER_CLIENT: re.compile(r'\bfwd="(?P<client>[0-9a-fA-F.:]{2,45})'),
    }
    for pattern, search in searches.items():
        at = line.find(pattern.pattern.split("=")[0] + "=")
        found = access._field(pattern, line, at) if at >= 0 else None
        expected = search.search(line)
        assert (found and found.span()) == (expected and expected.span())
