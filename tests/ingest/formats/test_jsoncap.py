"""Streaming JSON with a line cap: the same document as json.loads, minus the lines past the cap."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.ingest.entries import BodyError
from service.ingest.formats import jsoncap
from service.ingest.formats.jsoncap import CappedJsonError, load_capped
from service.ingest.formats.loki import parse_loki_json
from service.ingest.formats.otlp import parse_otlp_json

LOKI = {"lines": "streams.item.values", "containers": ("streams",)}
OTLP = {
    "lines": "resourceLogs.item.scopeLogs.item.logRecords",
    "containers": ("resourceLogs", "resourceLogs.item.scopeLogs"),
}


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every body, however small, through the streaming parser."""
    monkeypatch.setattr(jsoncap, "WHOLE_BYTES", 0)


def loki(*streams: tuple[dict[str, str], int]) -> bytes:
    return json.dumps(
        {
            "streams": [
                {"stream": labels, "values": [[str(i), f"line {i}"] for i in range(count)]}
                for labels, count in streams
            ]
        }
    ).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(document=json_values)
def test_an_uncapped_document_is_what_json_loads_reads(document: Any) -> None:
    jsoncap.WHOLE_BYTES, saved = 0, jsoncap.WHOLE_BYTES
    try:
        data = json.dumps(document).encode()
        assert load_capped(data, room=None, **LOKI) == (json.loads(data), 0)  # type: ignore[arg-type]
    finally:
        jsoncap.WHOLE_BYTES = saved


@pytest.mark.usefixtures("streamed")
def test_lines_past_the_cap_are_counted_not_built() -> None:
    body, surplus = load_capped(loki(({"job": "a"}, 5), ({"job": "b"}, 4)), room=6, **LOKI)  # type: ignore[arg-type]
    assert [len(stream["values"]) for stream in body["streams"]] == [5, 1]
    assert body["streams"][1]["stream"] == {"job": "b"}
    assert surplus == 3


@pytest.mark.usefixtures("streamed")
def test_containers_after_the_cap_are_left_out_with_their_lines_counted() -> None:
    body, surplus = load_capped(
        loki(({"job": "a"}, 2), ({"job": "b"}, 3), ({"job": "c"}, 0)), room=2, **LOKI
    )  # type: ignore[arg-type]
    assert [stream["stream"]["job"] for stream in body["streams"]] == ["a"]
    assert surplus == 3


@pytest.mark.usefixtures("streamed")
def test_snake_case_spellings_are_capped_too() -> None:
    data = json.dumps(
        {"resource_logs": [{"scope_logs": [{"log_records": [{"body": {}}] * 5}]}]}
    ).encode()
    body, surplus = load_capped(
        data,
        lines="resourceLogs.item.scopeLogs.item.logRecords",
        containers=("resourceLogs", "resourceLogs.item.scopeLogs"),
        room=2,
    )
    assert len(body["resource_logs"][0]["scope_logs"][0]["log_records"]) == 2 and surplus == 3


@pytest.mark.usefixtures("streamed")
@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"streams": [}', b'{"a": 1} trailing', b'{"a": "\xff"}', b"[" * 600 + b"]" * 600],
    ids=["empty", "cut", "broken", "trailing", "bad-utf8", "deep"],
)
def test_what_is_not_one_json_document_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(CappedJsonError):
        load_capped(data, room=10, **LOKI)  # type: ignore[arg-type]


@pytest.mark.usefixtures("streamed")
def test_an_integer_wider_than_64_bits_is_read() -> None:
    assert load_capped(b"[1208925819614629174706176]", room=None, **LOKI) == (  # type: ignore[arg-type]
        [1208925819614629174706176],
        0,
    )


def test_a_body_of_many_tiny_lines_costs_little_memory() -> None:
    count = 300_000
    body = (
        '{"streams":[{"stream":{"job":"a"},"values":[' + ",".join(['["1","a"]'] * count) + "]}]}"
    ).encode()
    tracemalloc.start()
    try:
        parsed = parse_loki_json(body, max_entries=1000)
        peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert len(parsed.entries) == 1000
    assert parsed.rejected["too_many_lines"] == count - 1000
    # json.loads would build 300,000 lists and 600,000 strings first: about 30 MiB.
    assert peak_mib < 5, peak_mib


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch, streamed: None) -> int:
    """Stream every body and let it build at most 1,000 values."""
    monkeypatch.setattr(jsoncap, "MAX_VALUES", 1000)
    return 1000


def test_a_body_that_would_build_too_many_values_is_refused_before_it_is(
    small_budget: int,
) -> None:
    values = ",".join(['{"stringValue":"a"}'] * small_budget)
    record = '{"body":{"arrayValue":{"values":[' + values + "]}}}"
    data = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + record + "]}]}]}").encode()
    with pytest.raises(jsoncap.JsonTooLarge):
        load_capped(data, room=10, **OTLP)  # type: ignore[arg-type]
    with pytest.raises(BodyError) as error:
        parse_otlp_json(data, max_entries=10)
    assert error.value.code == "payload_too_large"


def test_values_past_the_line_cap_do_not_count_against_the_budget(small_budget: int) -> None:
    count = small_budget  # three values each: over the budget, were they all built
    data = '{"streams":[{"stream":{"app":"a"},"values":[' + ",".join(['["1","a"]'] * count)
    body, surplus = load_capped((data + "]}]}").encode(), room=100, **LOKI)  # type: ignore[arg-type]
    assert len(body["streams"][0]["values"]) == 100 and surplus == count - 100
