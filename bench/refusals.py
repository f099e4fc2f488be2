"""Benchmark what recording drain refusals (`service.web.refusals.RecordRefusals`) adds to every
`/drains/NAME` request, against the same no-op ASGI app unwrapped, in the same run.

    .venv/bin/python bench/refusals.py [--requests N] [--rounds R]

Accepted (202) and refused (401) answers are timed separately: a 202 only has its status looked
at, a 401 also has its error body read and recorded. Not a test: compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from service.web.refusals import RecordRefusals, Refusals

Message = MutableMapping[str, Any]
App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def answering(status: int, body: bytes) -> App:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def per_request_us(app: App, requests: int) -> float:
    scope = {"type": "http", "path": "/drains/api"}
    started = time.perf_counter()
    for _ in range(requests):
        await app(scope, _receive, _send)
    return (time.perf_counter() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    cases = {
        "202": answering(202, b'{"accepted": 1, "rejected": 0, "reasons": {}}'),
        "401": answering(401, b'{"error": "unauthorized", "detail": "the token is not valid"}'),
    }
    for label, inner in cases.items():
        wrapped = RecordRefusals(inner, refusals=Refusals())
        for round_number in range(1, rounds + 1):
            bare = await per_request_us(inner, requests)
            recorded = await per_request_us(wrapped, requests)
            print(
                f"{label} round {round_number}: bare {bare:.2f} us, with RecordRefusals "
                f"{recorded:.2f} us, added {recorded - bare:.2f} us per request"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
