"""`drainwatch serve`: HTTP ingest, the JSON API and the dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="run the HTTP ingest, JSON API and dashboard")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--syslog-port",
        type=int,
        help="also take syslog over TCP here (as Render log streams send)",
    )
    parser.add_argument("--syslog-source", help="source name for syslog lines (default: syslog)")
    parser.add_argument("--tls-cert", type=Path, help="certificate (PEM) for syslog over TLS")
    parser.add_argument("--tls-key", type=Path, help="private key (PEM) for syslog over TLS")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the app from the environment's settings and serve it until interrupted."""
    from service.app import configure_logging, create_app
    from service.settings import Settings
    from service.web.server import build_server

    if (args.tls_cert is None) != (args.tls_key is None):
        print("drainwatch: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"syslog_host": args.host}
    for name in ("syslog_port", "syslog_source", "tls_cert", "tls_key"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    configure_logging(args.log_level)
    settings = Settings(**overrides)
    app = create_app(settings)
    server = build_server(app, settings, host=args.host, port=args.port, log_level=args.log_level)
    server.run()
    return 0
