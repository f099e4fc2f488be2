"""The files that deploy drainwatch on the platforms its users know (render.yaml, Procfile,
requirements.txt) name only commands, options, settings and routes that exist; behind a platform's
proxy the forwarded client address and scheme are believed only from the proxies allowed."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.cli import build_parser
from service.settings import Settings
from service.web.server import build_server

ROOT = Path(__file__).resolve().parent.parent
SETTING_NAMES = {f"DRAINWATCH_{name.upper()}" for name in Settings.model_fields}


def _serve_args(command: str) -> Any:
    argv = shlex.split(command.replace("$PORT", "10000").replace('"$PORT"', "10000"))
    while argv and "=" in argv[0]:  # VAR=value prefixes
        argv.pop(0)
    if argv[0] == "exec":
        argv.pop(0)
    assert argv[0] == "drainwatch", argv
    return build_parser().parse_args(argv[1:])


def _blueprint() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "render.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_render_blueprint_serves_on_renders_port_with_its_data_on_the_disk() -> None:
    (web,) = [s for s in _blueprint()["services"] if s["type"] == "web"]
    args = _serve_args(web["startCommand"])
    assert (args.host, args.port) == ("0.0.0.0", 10000)
    assert web["healthCheckPath"] == "/healthz"
    env = {e["key"]: e for e in web["envVars"]}
    drainwatch_keys = {key for key in env if key.startswith("DRAINWATCH_")}
    assert drainwatch_keys <= SETTING_NAMES, drainwatch_keys - SETTING_NAMES
    mount = web["disk"]["mountPath"]
    database = env["DRAINWATCH_DATABASE_URL"]["value"]
    assert database.startswith(f"sqlite:///{mount}/"), database
    assert env["DRAINWATCH_SPOOL_DIR"]["value"].startswith(f"{mount}/")
    assert env["DRAINWATCH_FORWARDED_ALLOW_IPS"]["value"] == "*"
    assert env["DRAINWATCH_ADMIN_PASSWORD"].get("generateValue") is True
    assert "-e ." in web["buildCommand"]


def test_procfile_web_process_serves_on_herokus_port() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    (web,) = [line for line in lines if line.startswith("web:")]
    command = web.removeprefix("web:").strip()
    assert "DRAINWATCH_DATABASE_URL=" in command and "$DATABASE_URL" in command
    args = _serve_args(command)
    assert (args.host, args.port) == ("0.0.0.0", 10000)


def test_requirements_install_the_checkout_itself() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e ."]


def test_public_url_defaults_to_renders_external_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRAINWATCH_PUBLIC_URL", raising=False)
    monkeypatch.setenv("RENDER_EXTERNAL_URL", "https://drainwatch-x1.onrender.com/")
    assert Settings(_env_file=None).public_url == "https://drainwatch-x1.onrender.com"  # type: ignore[call-arg]
    monkeypatch.setenv("DRAINWATCH_PUBLIC_URL", "https://logs.example.com")
    assert Settings(_env_file=None).public_url == "https://logs.example.com"  # type: ignore[call-arg]
    monkeypatch.delenv("DRAINWATCH_PUBLIC_URL")
    monkeypatch.delenv("RENDER_EXTERNAL_URL")
    assert Settings(_env_file=None).public_url == "http://127.0.0.1:8000"  # type: ignore[call-arg]


def _seen_through_proxy(allowed: str, peer: str) -> dict[str, Any]:
    """Return the client and scheme the app sees for a request from `peer` that says it was
    forwarded for 203.0.113.7 over https, with `allowed` as the trusted proxies."""
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(client=scope["client"][0], scheme=scope["scheme"])

    settings = Settings(_env_file=None, forwarded_allow_ips=allowed)  # type: ignore[call-arg]
    server = build_server(app, settings, host="127.0.0.1", port=0, log_level="warning")
    server.config.load()
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")],
    }
    asyncio.run(server.config.loaded_app(scope, None, None))
    return seen


def test_forwarded_headers_believed_only_from_the_allowed_proxies() -> None:
    assert _seen_through_proxy("127.0.0.1", "10.1.2.3") == {"client": "10.1.2.3", "scheme": "http"}
    assert _seen_through_proxy("*", "10.1.2.3") == {"client": "203.0.113.7", "scheme": "https"}
    assert _seen_through_proxy("10.1.2.0/24", "10.1.2.3")["client"] == "203.0.113.7"
