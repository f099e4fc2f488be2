"""Reading bodies within limits: gzip inflated in pieces, never held past the limit."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request

from service.errors import ApiError
from service.web.body import decode_content, read_limited

MIB = 1 << 20


def _peak_bytes(call: Callable[[], Any]) -> tuple[Any, int]:
    """Return what `call` returned (or the ApiError it raised) and the peak bytes it allocated."""
    tracemalloc.start()
    try:
        try:
            result: Any = call()
        except ApiError as error:
            result = error
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(bytes(size)) + compressor.flush()


def test_a_gzip_bomb_is_413_without_holding_what_it_inflates_to() -> None:
    body = _bomb(100 * MIB)
    error, peak = _peak_bytes(lambda: decode_content(body, "gzip", 50 * MIB))
    assert isinstance(error, ApiError)
    assert (error.status, error.code) == (413, "payload_too_large")
    assert peak < 4 * MIB


def test_a_gzip_body_within_the_limit_is_held_once_not_twice() -> None:
    raw = b"a line of a log\n" * (20 * MIB // 16)
    body = gzip.compress(raw)
    decoded, peak = _peak_bytes(lambda: decode_content(body, "gzip", 50 * MIB))
    assert decoded == raw
    assert peak < len(raw) + 4 * MIB


def test_a_gzip_body_of_exactly_the_limit_is_read() -> None:
    raw = b"x" * 1000
    assert decode_content(gzip.compress(raw), "gzip", 1000) == raw
    with pytest.raises(ApiError) as caught:
        decode_content(gzip.compress(raw), "gzip", 999)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    "body",
    [gzip.compress(b"log line\n" * 100)[:-6], b"not gzip at all", b""],
    ids=["truncated", "not-gzip", "empty"],
)
def test_a_broken_gzip_body_is_400(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        decode_content(body, "gzip", MIB)
    assert (caught.value.status, caught.value.code) == (400, "bad_encoding")


def test_an_empty_gzip_stream_inflates_to_nothing() -> None:
    assert decode_content(gzip.compress(b""), "gzip", MIB) == b""


def test_a_sender_that_hangs_up_mid_body_is_a_clean_400_not_a_traceback() -> None:
    messages = [
        {"type": "http.request", "body": b"ERROR half a line", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/drains/api", "headers": []}
    request = Request(scope, receive)
    with pytest.raises(ApiError) as raised:
        asyncio.run(read_limited(request, 1000, 5.0))
    assert (raised.value.status, raised.value.code) == (400, "client_disconnected")
