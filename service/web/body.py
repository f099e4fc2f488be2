"""Reading request bodies within limits: on the wire, and after gzip, without inflating bombs."""

from __future__ import annotations

import asyncio
import zlib

from fastapi import Request
from starlette.requests import ClientDisconnect

from service.errors import ApiError

_GZIP = 16 + zlib.MAX_WBITS
# How much inflated output is held at once while a gzip body is measured.
_PIECE = 256 * 1024


async def read_limited(request: Request, limit: int, timeout: float) -> bytes:
    """Return the raw body, answering 413 as soon as it grows past `limit` bytes.

    A body that takes longer than `timeout` seconds to arrive is answered 408 and its connection
    closed, so a client trickling bytes holds neither a socket nor a shutdown.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"the body declares {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(f"the body is over the limit of {limit} bytes")
                chunks.append(chunk)
    except ClientDisconnect as error:
        # The sender hung up mid-body: nothing is stored, and nobody is left to answer.
        raise ApiError(400, "client_disconnected", "the body was cut off") from error
    except TimeoutError as error:
        raise ApiError(
            408,
            "request_timeout",
            f"the body did not arrive within {timeout:g} s",
            headers={"Connection": "close"},
        ) from error
    return b"".join(chunks)


def decode_content(body: bytes, encoding: str, limit: int) -> bytes:
    """Return the body with its Content-Encoding undone, answering 413 past `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; send gzip or none",
        )
    size = inflated_size(body, limit)
    # The size is known and within the limit: one buffer of exactly that size, never a list of
    # pieces joined (which holds the body twice).
    return zlib.decompress(body, _GZIP, size)


def inflated_size(body: bytes, limit: int) -> int:
    """Return the size of a gzip body once inflated, inflating it in pieces that are dropped.

    At most `_PIECE` bytes of output are held at any time, so a bomb costs no memory: 413 as soon
    as the count passes `limit`, 400 when the stream is corrupt or truncated.
    """
    inflater = zlib.decompressobj(_GZIP)
    size = 0
    data = body
    try:
        while not inflater.eof:
            piece = len(inflater.decompress(data, _PIECE))
            if not piece and not data:
                break  # no input left and nothing more comes out: truncated
            size += piece
            if size > limit:
                raise _too_large(f"the body is over {limit} bytes after decompression")
            data = inflater.unconsumed_tail
    except zlib.error as error:
        raise ApiError(
            400, "bad_encoding", f"the gzip body could not be decompressed: {error}"
        ) from error
    if not inflater.eof:
        raise ApiError(400, "bad_encoding", "the gzip body is truncated")
    return size


def _too_large(detail: str) -> ApiError:
    return ApiError(413, "payload_too_large", detail)
