"""The sender configurations `/sources` shows: each parses as its tool's format and points at the
endpoint and auth form CONTRACT.md gives."""

from __future__ import annotations

import tomllib

import yaml
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from service.settings import Settings
from service.web.drain_configs import base_url, sender_configs

BASE = "https://dw.example.com"


def configs(**kwargs: object) -> dict[str, str]:
    return {c.key: c.text for c in sender_configs(BASE, "api", "dw_abc", **kwargs)}  # type: ignore[arg-type]


def test_heroku_gets_the_token_as_the_basic_password_of_the_drain_url() -> None:
    assert configs()["heroku"] == (
        'heroku drains:add "https://drain:dw_abc@dw.example.com/drains/api" -a YOUR_APP'
    )


def test_vector_is_an_http_sink_with_bearer_auth() -> None:
    sink = tomllib.loads(configs()["vector"])["sinks"]["drainwatch_api"]
    assert sink["type"] == "http" and sink["uri"] == f"{BASE}/drains/api"
    assert sink["encoding"] == {"codec": "json"}
    assert sink["auth"] == {"strategy": "bearer", "token": "dw_abc"}


def test_fluent_bit_is_an_http_output_over_tls_with_the_bearer_header() -> None:
    lines = configs()["fluentbit"].splitlines()
    assert lines[0] == "[OUTPUT]"
    pairs = dict(line.split(None, 1) for line in lines[1:])
    assert pairs["Name"] == "http" and pairs["Host"] == "dw.example.com"
    assert (pairs["Port"], pairs["tls"], pairs["URI"]) == ("443", "On", "/drains/api")
    assert pairs["Format"] == "json_lines" and pairs["json_date_format"] == "iso8601"
    assert pairs["Header"] == "Authorization Bearer dw_abc"
    plain = {c.key: c.text for c in sender_configs("http://10.0.0.5:8000", "api")}
    assert (
        "Port              8000" in plain["fluentbit"]
        and "tls               Off" in plain["fluentbit"]
    )


def test_the_otel_collector_exports_otlp_http_to_v1_logs() -> None:
    config = yaml.safe_load(configs()["otel"])
    exporter = config["exporters"]["otlphttp/drainwatch"]
    assert exporter["logs_endpoint"] == f"{BASE}/v1/logs"
    assert exporter["headers"] == {"Authorization": "Bearer dw_abc"}
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlphttp/drainwatch"]


def test_promtail_pushes_to_the_loki_endpoint_with_a_bearer_token() -> None:
    [client] = yaml.safe_load(configs()["promtail"])["clients"]
    assert client == {"url": f"{BASE}/loki/api/v1/push", "bearer_token": "dw_abc"}


def test_render_uses_the_syslog_port_when_serve_listens_else_the_render_cli() -> None:
    assert configs(syslog_port=6514)["render"] == "dw.example.com:6514"
    streamed = {c.key: c for c in sender_configs(BASE, "api", syslog_port=6514)}["render"]
    assert "arrive as source syslog" in streamed.where
    assert "render logs --resources" in configs()["render"]
    assert f'"{BASE}/drains/api"' in configs()["render"]


def test_the_base_url_is_the_public_url_when_set_else_the_request_s() -> None:
    app = FastAPI()
    chosen: dict[str, str] = {}

    @app.get("/probe")
    def probe(request: Request) -> None:
        chosen["unset"] = base_url(request, Settings(_env_file=None))  # type: ignore[call-arg]
        chosen["set"] = base_url(
            request,
            Settings(_env_file=None, public_url="https://dw.example.com/"),  # type: ignore[call-arg]
        )

    TestClient(app, base_url="http://seen.example:8080").get("/probe")
    assert chosen == {"unset": "http://seen.example:8080", "set": "https://dw.example.com"}
