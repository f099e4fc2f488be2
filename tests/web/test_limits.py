"""The per-batch line cap applies while a body is split, before its lines are parsed."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.ingest.formats.caps import nonempty_lines
from tests.conftest import INGEST_TOKEN

MIB = 1 << 20


def _post(client: TestClient, body: bytes, content_type: str, **headers: str) -> Any:
    return client.post(
        "/drains/api",
        content=body,
        headers={
            "Authorization": f"Bearer {INGEST_TOKEN}",
            "Content-Type": content_type,
            **headers,
        },
    )


def test_lines_past_the_cap_are_counted_without_being_parsed(
    client: TestClient, runtime: Any
) -> None:
    runtime.settings.max_lines_per_batch = 1000
    body = gzip.compress(b"a\n" * 300_000)
    tracemalloc.start()
    try:
        response = _post(client, body, "text/plain", **{"Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": 1000,
        "rejected": 299_000,
        "reasons": {"too_many_lines": 299_000},
    }
    assert runtime.spool.pending_lines() == {"api": 1000}
    assert peak < 20 * MIB


def test_blank_lines_do_not_count_against_the_cap(client: TestClient, runtime: Any) -> None:
    runtime.settings.max_lines_per_batch = 3
    response = _post(client, b"one\r\n\r\n\ntwo\rthree\n\nfour\nfive\n", "text/plain")
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
    assert response.json()["reasons"] == {"too_many_lines": 2}
    assert runtime.spool.pending_lines() == {"api": 3}


def test_entries_past_the_cap_are_counted_by_their_lines(client: TestClient, runtime: Any) -> None:
    runtime.settings.max_lines_per_batch = 4
    messages = ["first", "second\nthird", "fourth\nfifth\nsixth", "seventh"]
    body = "\n".join(json.dumps({"message": message}) for message in messages).encode()
    response = _post(client, body, "application/x-ndjson")
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 4
    assert response.json()["reasons"] == {"too_many_lines": 3}


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("\n\n\r\n", 0),
        ("a", 1),
        ("a\n", 1),
        ("\na\n\n\nb", 2),
        ("a\r\nb\rc\n", 3),
        ("\n" * 1000 + "z", 1),
    ],
)
def test_nonempty_lines_counts_lines_as_they_are_split(text: str, count: int) -> None:
    assert nonempty_lines(text) == count
