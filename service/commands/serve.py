"""`drainwatch serve`: HTTP ingest, the JSON API and the dashboard; the processor in a child process
of its own (or a thread, `--processor thread`); `--workers N` web processes on one port."""

from __future__ import annotations

import argparse
import socket
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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="web processes for ingest, the API and the dashboard, on one port (default 1)",
    )
    parser.add_argument(
        "--processor",
        choices=["process", "thread", "none"],
        default=None,
        help="where the processor runs: a thread of the web process (the default with one "
        "worker: one process, the least memory), a child process of its own (a core of its "
        "own; the default with --workers N), or none (run `drainwatch process`)",
    )
    # Set by `serve --workers N` for its web processes: the listening socket they share, and
    # whether this one is the primary (the syslog listener, the puller, the dispatcher).
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--secondary", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the app from the environment's settings and serve it until interrupted."""
    from service.logconfig import configure_logging
    from service.settings import Settings

    if (args.tls_cert is None) != (args.tls_key is None):
        print("drainwatch: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"syslog_host": args.host}
    for name in ("syslog_port", "syslog_source", "tls_cert", "tls_key"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.workers < 1:
        print("drainwatch: --workers is at least 1", file=sys.stderr)
        return 2
    configure_logging(args.log_level)
    settings = Settings(**overrides)
    from service.memory import Trimmer, tune_malloc

    tune_malloc(settings.malloc_arena_max)  # before any thread is started
    if args.processor is None:
        args.processor = "thread" if args.workers == 1 else "process"
    if args.workers > 1:
        # The parent of the web processes imports no app: it only binds, starts and watches.
        from service.prefork import serve_workers

        if args.processor == "thread":
            print("drainwatch: --processor thread needs --workers 1", file=sys.stderr)
            return 2
        return serve_workers(args, settings)
    from service.app import create_app
    from service.web.server import build_server

    if args.fd is not None:
        from service.supervisor import die_with_parent

        die_with_parent()
    app = create_app(
        settings,
        processor_mode=args.processor,
        primary=not args.secondary,
        log_level=args.log_level,
    )
    server = build_server(app, settings, host=args.host, port=args.port, log_level=args.log_level)
    trimmer = Trimmer(settings.memory_trim_seconds)
    trimmer.start()
    if args.fd is None:
        server.run()
    else:
        server.run(sockets=[socket.socket(fileno=args.fd)])
    trimmer.stop()
    return 0
