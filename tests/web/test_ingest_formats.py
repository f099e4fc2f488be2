"""Every ingest format over HTTP: logplex, JSON, Loki and OTLP, with their auth, limits and answers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import cramjam
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from service.db import session_scope, utcnow
from service.ingest.formats import loki
from service.sources import issue_token
from tests.conftest import ADMIN, INGEST_TOKEN

PAYLOADS = Path(__file__).parents[1] / "ingest" / "formats" / "payloads"
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
LOGPLEX = (PAYLOADS / "logplex_crash.txt").read_bytes()


def frame(message: str) -> bytes:
    data = (message + "\n").encode()
    return str(len(data)).encode() + b" " + data


def logplex(client: TestClient, body: bytes, **headers: str) -> Any:
    return client.post(
        "/drains/shop",
        content=body,
        headers={**AUTH, "Content-Type": "application/logplex-1", **headers},
    )


def spooled(runtime: Any) -> list[tuple[str, str, str]]:
    """Return (source, instance, message) of every record waiting in the spool."""
    return [
        (record.source, record.instance, record.message)
        for batch in runtime.spool.pending()
        for record in batch.records
    ]


def metric(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics", auth=ADMIN).text
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    )
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


# --- Heroku logplex -------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/logplex-1", "application/x-logplex-1"])
def test_a_logplex_batch_is_accepted_frame_by_frame(
    client: TestClient, runtime: Any, content_type: str
) -> None:
    response = logplex(client, LOGPLEX, **{"Content-Type": content_type, "Logplex-Msg-Count": "9"})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 9, "rejected": 0, "reasons": {}}
    records = spooled(runtime)
    assert ("shop", "web.1", "NameError: name 'logger' is not defined") in records


def test_a_retried_logplex_frame_id_stores_nothing_new(client: TestClient, runtime: Any) -> None:
    first = logplex(client, LOGPLEX, **{"Logplex-Frame-Id": "09C557EAFCFB6CF2740EE62F62971098"})
    again = logplex(client, LOGPLEX, **{"Logplex-Frame-Id": "09C557EAFCFB6CF2740EE62F62971098"})
    other = logplex(client, LOGPLEX, **{"Logplex-Frame-Id": "19C557EAFCFB6CF2740EE62F62971098"})
    assert first.json()["accepted"] == 9
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "rejected": 0, "reasons": {}, "duplicate": True}
    assert other.json()["accepted"] == 9
    assert runtime.spool.pending_lines() == {"shop": 18}
    assert metric(client, "drainwatch_batches_duplicate_total") == 1


def test_a_msg_count_mismatch_is_counted_but_never_rejects(client: TestClient) -> None:
    response = logplex(client, LOGPLEX, **{"Logplex-Msg-Count": "12"})
    assert response.status_code == 202 and response.json()["accepted"] == 9
    assert metric(client, "drainwatch_logplex_msg_count_mismatch_total", source="shop") == 1


def test_a_logplex_body_that_cannot_be_framed_is_400(client: TestClient, runtime: Any) -> None:
    response = logplex(client, b"99999999 <190>1 x")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_logplex"
    assert runtime.spool.pending_lines() == {}


def test_a_heroku_drain_url_with_basic_credentials_works(client: TestClient) -> None:
    response = client.post(
        f"http://user:{INGEST_TOKEN}@testserver/drains/shop",
        content=LOGPLEX,
        headers={"Content-Type": "application/logplex-1"},
    )
    assert response.status_code == 202, response.text


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("json_render_logs.json", "application/json"),
        ("json_vector_array.json", "application/json"),
        ("json_fluentbit_json.json", "application/json"),
        ("json_fluentbit_json_lines.ndjson", "application/x-ndjson"),
        ("json_logstash_batch.json", "application/json"),
        ("json_datadog.json", "application/json"),
    ],
)
def test_json_shapes_are_accepted(
    client: TestClient, runtime: Any, name: str, content_type: str
) -> None:
    body = (PAYLOADS / name).read_bytes()
    response = client.post(
        "/drains/api",
        content=gzip.compress(body),
        headers={**AUTH, "Content-Type": content_type, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] > 0
    assert runtime.spool.pending_lines()["api"] == response.json()["accepted"]


def test_a_bad_ndjson_line_costs_only_itself(client: TestClient, runtime: Any) -> None:
    body = b'{"message": "one"}\n{"message": broken\n{"message": "two"}\n'
    response = client.post(
        "/drains/api", content=body, headers={**AUTH, "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "rejected": 1, "reasons": {"bad_json": 1}}
    assert [m for _, _, m in spooled(runtime)] == ["one", "two"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b'{"no": "message"}'])
def test_json_without_a_usable_entry_is_400(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/drains/api", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"bad_json", "empty"}


# --- Loki -----------------------------------------------------------------------------------


def loki_body() -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"app": "billing", "instance": "billing-7f9c"},
                "values": [
                    ["1758285794000000000", "sqlalchemy.exc.MissingGreenlet: greenlet_spawn"],
                ],
            },
            {
                "stream": {"job": "worker", "host": "w1"},
                "values": [["1758285795000000000", "NameError: name 'logger' is not defined"]],
            },
            {"stream": {}, "values": [["1758285796000000000", "no label names a source"]]},
        ]
    }


def loki_protobuf(body: dict[str, Any]) -> bytes:
    request = loki.PushRequest()
    for stream in body["streams"]:
        labels = ", ".join(f'{k}="{v}"' for k, v in stream["stream"].items())
        adapter = request.streams.add(labels=("{" + labels + "}").encode())
        for stamp, line in stream["values"]:
            entry = adapter.entries.add(line=line.encode())
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(int(stamp), 10**9)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_loki_streams_go_to_the_source_their_labels_name(
    client: TestClient, runtime: Any, encoding: str
) -> None:
    if encoding == "json":
        content, content_type = json.dumps(loki_body()).encode(), "application/json"
    else:
        content, content_type = loki_protobuf(loki_body()), "application/x-protobuf"
    response = client.post(
        "/loki/api/v1/push",
        content=gzip.compress(content),
        headers={**AUTH, "Content-Type": content_type, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 202, response.text
    assert runtime.spool.pending_lines() == {"billing": 1, "worker": 1, "loki": 1}
    assert ("billing", "billing-7f9c", "sqlalchemy.exc.MissingGreenlet: greenlet_spawn") in (
        spooled(runtime)
    )


def test_a_sources_own_token_pins_every_loki_stream_to_it(client: TestClient, runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        token = issue_token(session, "billing", now=utcnow())
    response = client.post(
        "/loki/api/v1/push",
        json=loki_body(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202, response.text
    assert runtime.spool.pending_lines() == {"billing": 3}


def test_the_query_names_the_source_when_no_label_does(client: TestClient, runtime: Any) -> None:
    body = {"streams": [{"stream": {}, "values": [["1758285794000000000", "line"]]}]}
    client.post("/loki/api/v1/push?source=edge", json=body, headers=AUTH)
    assert runtime.spool.pending_lines() == {"edge": 1}


def test_a_snappy_bomb_is_413(client: TestClient, runtime: Any) -> None:
    declared = runtime.settings.max_decoded_bytes + 1
    varint = bytearray()
    while declared > 0x7F:
        varint.append((declared & 0x7F) | 0x80)
        declared >>= 7
    varint.append(declared)
    response = client.post(
        "/loki/api/v1/push",
        content=bytes(varint) + b"\x00" * 16,
        headers={**AUTH, "Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


# --- OTLP -----------------------------------------------------------------------------------


def otlp_json() -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "checkout"}},
                        {"key": "service.instance.id", "value": {"stringValue": "web.2"}},
                    ]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1758285794000000000",
                                "severityText": "ERROR",
                                "body": {"stringValue": "NameError: name 'logger' is not defined"},
                            },
                            {"timeUnixNano": "1758285795000000000", "body": {"stringValue": ""}},
                        ]
                    }
                ],
            }
        ]
    }


def test_otlp_json_is_accepted_with_a_partial_success(client: TestClient, runtime: Any) -> None:
    response = client.post("/v1/logs", json=otlp_json(), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    assert spooled(runtime) == [("checkout", "web.2", "NameError: name 'logger' is not defined")]


def test_otlp_protobuf_is_answered_in_protobuf(client: TestClient, runtime: Any) -> None:
    from google.protobuf import json_format

    request = json_format.ParseDict(otlp_json(), logs_service_pb2.ExportLogsServiceRequest())
    response = client.post(
        "/v1/logs",
        content=gzip.compress(request.SerializeToString()),
        headers={**AUTH, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    answer = logs_service_pb2.ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 1
    assert runtime.spool.pending_lines() == {"checkout": 1}


def test_an_otlp_body_that_is_not_protobuf_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/logs", content=b"\xff" * 40, headers={**AUTH, "Content-Type": "application/x-protobuf"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_otlp"


# --- shared: auth, media types, rate limits, metrics ----------------------------------------


@pytest.mark.parametrize("path", ["/loki/api/v1/push", "/v1/logs"])
def test_label_routed_endpoints_want_a_valid_token(
    client: TestClient, runtime: Any, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = client.post(path, json={"streams": []}, headers=headers)
        assert response.status_code == 401
    assert runtime.spool.pending_lines() == {}


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/drains/api", "image/png"),
        ("/loki/api/v1/push", "text/plain"),
        ("/v1/logs", "text/plain"),
    ],
)
def test_unknown_media_types_are_415(client: TestClient, path: str, content_type: str) -> None:
    response = client.post(path, content=b"x", headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.fixture
def limited(client: TestClient, runtime: Any) -> Any:
    from service.ratelimit import RateLimiter

    runtime.limiter = RateLimiter(1, 5, clock=lambda: 1000.0)
    return runtime


def test_a_source_over_its_rate_is_429_with_retry_after(client: TestClient, limited: Any) -> None:
    text = {**AUTH, "Content-Type": "text/plain"}
    assert client.post("/drains/api", content=b"a\n" * 10, headers=text).status_code == 202
    refused = client.post("/drains/api", content=b"b\n", headers=text)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.post("/drains/web", content=b"c\n", headers=text).status_code == 202
    assert limited.spool.pending_lines() == {"api": 10, "web": 1}
    assert limited.processor.refusals.take()["api"].lines == 1


def test_a_logplex_sender_over_its_rate_gets_503_never_429(
    client: TestClient, limited: Any
) -> None:
    assert logplex(client, LOGPLEX).status_code == 202
    refused = logplex(client, LOGPLEX)
    assert refused.status_code == 503
    assert refused.json()["error"] == "rate_limited"
    assert "Retry-After" in refused.headers


@pytest.mark.parametrize(
    ("request_kwargs", "code"),
    [
        ({"headers": {}}, "unauthorized"),
        ({"headers": {**AUTH, "Content-Type": "image/png"}}, "unsupported_media_type"),
        ({"headers": {**AUTH, "Content-Encoding": "br"}}, "unsupported_encoding"),
        ({"headers": {**AUTH, "Content-Type": "application/json"}}, "bad_json"),
        (
            {"headers": {**AUTH, "Content-Type": "application/logplex-1"}, "content": b"9999999 <"},
            "bad_logplex",
        ),
    ],
)
def test_every_rejection_reason_has_a_counter(
    client: TestClient, request_kwargs: dict[str, Any], code: str
) -> None:
    request_kwargs.setdefault("content", b"{bad")
    response = client.post("/drains/api", **request_kwargs)
    assert response.json()["error"] == code
    assert metric(client, "drainwatch_ingest_rejected_total", error=code) == 1


def test_a_wrong_method_on_an_ingest_path_is_counted_too(client: TestClient) -> None:
    assert client.get("/drains/api").status_code == 405
    assert metric(client, "drainwatch_ingest_rejected_total", error="method_not_allowed") == 1


def test_rejected_lines_inside_a_batch_are_counted_by_reason(client: TestClient) -> None:
    body = b'{"message": "one"}\n{"message": broken\n{"no": "message"}\n'
    client.post("/drains/api", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert metric(client, "drainwatch_lines_rejected_total", reason="bad_json") == 1
    assert metric(client, "drainwatch_lines_rejected_total", reason="no_message") == 1


HOSTILE = [
    b'{"message": "\\ud800 lone surrogate", "ts": 1' + b"0" * 400 + b"}",
    b"[" * 100_000,
    b'{"streams": [{"stream": {"app": "' + b"x" * 5000 + b'"}, "values": [["1", "\\u0000"]]}]}',
    b"\x00\xff\xfe" * 1000,
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"kvlistValue": {}}}]}]}]}',
    b"120 <190>1 - - - - - " + b"\x1b[31m" * 20,
]
TYPES = [
    ("/drains/api", "text/plain"),
    ("/drains/api", "application/json"),
    ("/drains/api", "application/x-ndjson"),
    ("/drains/api", "application/logplex-1"),
    ("/loki/api/v1/push", "application/json"),
    ("/loki/api/v1/push", "application/x-protobuf"),
    ("/v1/logs", "application/json"),
    ("/v1/logs", "application/x-protobuf"),
]


@pytest.mark.parametrize(("path", "content_type"), TYPES)
def test_hostile_bodies_never_yield_a_500(
    client: TestClient, runtime: Any, path: str, content_type: str
) -> None:
    for body in HOSTILE:
        response = client.post(path, content=body, headers={**AUTH, "Content-Type": content_type})
        assert response.status_code < 500, (body[:40], response.text)
        assert response.status_code in (200, 202, 400, 413), response.text
    runtime.processor.process_all()  # and what was accepted is stored without an error
    assert runtime.spool.pending() == []


def test_an_l10_line_shows_as_a_data_gap_on_the_sources_page_and_api(
    client: TestClient, runtime: Any
) -> None:
    overflow = (
        "<172>1 2025-09-19T12:43:20+00:00 host heroku logplex - Error L10 (output buffer overflow):"
        " drain 'd.<script>' dropped 1043 messages since 2025-09-19T12:42:50+00:00."
    )
    assert logplex(client, frame(overflow)).status_code == 202
    runtime.processor.process_all()
    source = client.get("/api/sources/shop", auth=ADMIN).json()
    [gap] = source["data_gaps"]
    assert gap["time"] == "2025-09-19T12:43:20+00:00"
    assert "dropped 1043 log lines" in gap["text"]
    page = client.get("/sources", auth=ADMIN).text
    assert "Data gaps" in page and "dropped 1043 log lines" in page
    assert "<script>" not in page.split("<h1>", 1)[1]


def test_a_full_spool_is_503_with_retry_after_and_a_data_gap(
    client: TestClient, runtime: Any
) -> None:
    runtime.spool.max_bytes = runtime.spool.size_bytes + 10
    response = client.post(
        "/drains/api", content=b"one line\n", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert response.status_code == 503
    assert response.json()["error"] == "spool_full"
    assert response.headers["Retry-After"] == "10"
    assert runtime.processor.refusals.take()["api"].reasons == {"spool full"}


def test_a_spool_that_cannot_be_written_is_503(
    client: TestClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from service.spool.store import SpoolError

    def broken(*_args: object, **_kwargs: object) -> Future[bool]:
        failed: Future[bool] = Future()
        failed.set_exception(SpoolError("disk I/O error"))  # the group commit failed
        return failed

    monkeypatch.setattr(runtime.spool, "submit_many", broken)
    response = client.post(
        "/drains/api", content=b"one line\n", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert response.status_code == 503
    assert response.json() == {
        "error": "unavailable",
        "detail": "the batch could not be made durable: disk I/O error",
    }
    assert response.headers["Retry-After"] == "5"
    assert runtime.processor.refusals.take()["api"].reasons == {"spool not writable"}


@pytest.mark.parametrize("path", ["/drains/billing", "/loki/api/v1/push"])
def test_a_source_token_cannot_be_checked_while_the_database_is_down(
    client: TestClient, runtime: Any, tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine

    # Put back (and so disposed by the app's shutdown) before the client fixture ends.
    monkeypatch.setattr(runtime, "engine", create_engine(f"sqlite:///{tmp_path}/missing/x.db"))
    response = client.post(path, content=b"x\n", headers={"Authorization": "Bearer a-source-token"})
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["Retry-After"] == "5"


def test_a_label_that_is_no_source_name_is_normalised_and_its_lines_processed(
    client: TestClient, runtime: Any
) -> None:
    body = {
        "streams": [
            {
                "stream": {"job": "default/api"},
                "values": [["1758285795000000000", "NameError: name 'logger' is not defined"]],
            },
            {
                "stream": {"service": "my api " + "x" * 120},
                "values": [["1758285796000000000", "ok"]],
            },
        ]
    }
    response = client.post("/loki/api/v1/push", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    assert {source for source, _, _ in spooled(runtime)} == {"default-api", "my-api-" + "x" * 93}
    runtime.processor.process_all()
    assert runtime.spool.pending_lines() == {}
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert [(i["signature"], i["source"]) for i in incidents] == [
        ("python.name-error", "default-api")
    ]
