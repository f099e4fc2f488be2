"""Ready-to-paste sender configurations for one source: its drain URL and what Heroku, Render,
Vector, Fluent Bit, the OpenTelemetry collector and Promtail need to send to it.

Pure text from (base URL, source name, token): the page shows them with `TOKEN` as a placeholder,
or with the real token right after it was made. Source names and tokens are URL-safe by
construction, so nothing here needs quoting beyond what each format asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from service.settings import Settings

PLACEHOLDER = "TOKEN"


@dataclass(frozen=True, slots=True)
class SenderConfig:
    """One sender's configuration: what it is, where to paste it, the text itself."""

    key: str
    title: str
    where: str
    text: str


def base_url(request: Request, settings: Settings) -> str:
    """Return the URL senders reach drainwatch at: `DRAINWATCH_PUBLIC_URL` when it was set,
    else the URL this page was asked for."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def drain_url(base: str, name: str) -> str:
    """Return the source's drain endpoint."""
    return f"{base}/drains/{name}"


def heroku_url(base: str, name: str, token: str) -> str:
    """Return the drain URL with the token as its Basic password, as `heroku drains:add` takes."""
    scheme, _, rest = base.partition("://")
    return f"{scheme}://drain:{token}@{rest}/drains/{name}"


def sender_configs(
    base: str,
    name: str,
    token: str = PLACEHOLDER,
    *,
    syslog_port: int | None = None,
    syslog_source: str = "syslog",
) -> list[SenderConfig]:
    """Return every sender's configuration for source `name` at `base`.

    `syslog_port` is the syslog listener's port (None: not listening); what it takes in goes to
    source `syslog_source`, whatever source the page is about.
    """
    parts = urlsplit(base)
    host = parts.hostname or "drainwatch.example.com"
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    prefix = parts.path.rstrip("/")
    url = drain_url(base, name)
    return [
        SenderConfig(
            "heroku",
            "Heroku log drain",
            "a shell with the Heroku CLI; replace YOUR_APP",
            f'heroku drains:add "{heroku_url(base, name, token)}" -a YOUR_APP',
        ),
        _render(base, name, token, host, (syslog_port, syslog_source)),
        SenderConfig(
            "vector",
            "Vector (http sink)",
            "vector.toml; set inputs to your source or transform",
            "\n".join(
                [
                    f"[sinks.drainwatch_{name.replace('.', '_').replace('-', '_')}]",
                    'type = "http"',
                    'inputs = ["app_logs"]',
                    f'uri = "{url}"',
                    'method = "post"',
                    'encoding.codec = "json"',
                    'compression = "gzip"',
                    'auth.strategy = "bearer"',
                    f'auth.token = "{token}"',
                ]
            ),
        ),
        SenderConfig(
            "fluentbit",
            "Fluent Bit (http output)",
            "fluent-bit.conf",
            "\n".join(
                [
                    "[OUTPUT]",
                    "    Name              http",
                    "    Match             *",
                    f"    Host              {host}",
                    f"    Port              {port}",
                    f"    tls               {'On' if https else 'Off'}",
                    f"    URI               {prefix}/drains/{name}",
                    "    Format            json_lines",
                    "    json_date_key     timestamp",
                    "    json_date_format  iso8601",
                    "    compress          gzip",
                    f"    Header            Authorization Bearer {token}",
                ]
            ),
        ),
        SenderConfig(
            "otel",
            "OpenTelemetry collector (otlphttp exporter)",
            "the collector's config.yaml; add the exporter to your logs pipeline",
            "\n".join(
                [
                    "exporters:",
                    "  otlphttp/drainwatch:",
                    f"    logs_endpoint: {base}/v1/logs",
                    "    encoding: proto",
                    "    compression: gzip",
                    "    headers:",
                    f'      Authorization: "Bearer {token}"',
                    "service:",
                    "  pipelines:",
                    "    logs:",
                    "      receivers: [otlp]",
                    "      exporters: [otlphttp/drainwatch]",
                ]
            ),
        ),
        SenderConfig(
            "promtail",
            "Promtail (Loki push)",
            "promtail.yaml, the clients section",
            "\n".join(
                [
                    "clients:",
                    f"  - url: {base}/loki/api/v1/push",
                    f"    bearer_token: {token}",
                ]
            ),
        ),
        SenderConfig(
            "curl",
            "curl, or anything that posts lines",
            "a shell",
            f'curl -sS --fail-with-body -H "Authorization: Bearer {token}" '
            f'-H "Content-Type: text/plain" --data-binary @app.log "{url}"',
        ),
    ]


def _render(
    base: str, name: str, token: str, host: str, syslog: tuple[int | None, str]
) -> SenderConfig:
    port, syslog_source = syslog
    if port is not None:
        where = "Render Dashboard → Workspace settings → Log Streams → Log Endpoint"
        if syslog_source != name:
            where += f"; its lines arrive as source {syslog_source} (serve --syslog-source)"
        return SenderConfig("render", "Render log stream", where, f"{host}:{port}")
    # Without the syslog listener, Render's own CLI posts a page of logs to the drain URL.
    return SenderConfig(
        "render",
        "Render (no syslog port configured: the Render CLI, or serve --syslog-port)",
        "a shell with the Render CLI; replace srv-XXXX with the service id",
        f"render logs --resources srv-XXXX --limit 1000 -o json |\n"
        f'  curl -sS --fail-with-body -H "Authorization: Bearer {token}" '
        f'-H "Content-Type: application/json" --data-binary @- "{drain_url(base, name)}"',
    )
