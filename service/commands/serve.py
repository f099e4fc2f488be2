"""`drainwatch serve`: HTTP ingest, the JSON API and the dashboard."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="run the HTTP ingest, JSON API and dashboard")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the app from the environment's settings and serve it until interrupted."""
    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True)
    return 0
