"""`drainwatch serve --workers N`: this process binds the port and keeps N web processes (each a
`drainwatch serve --fd`, accepting on the socket it inherits) and one processor process running,
restarting any that dies. SIGTERM or SIGINT stops the web processes first (in-flight requests and
their group commits finish) and the processor last (its final flush).

Every web process parses, redacts and spools with its own group commit into the one spool file;
the first is the primary and alone runs the syslog listener, the Render puller and the
notification dispatcher. This process holds no app, no session and no spool connection while
it serves.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from types import FrameType

from service.settings import Settings
from service.supervisor import Child, processor_child

log = logging.getLogger("drainwatch.prefork")
_BACKLOG = 2048
# Past the web processes' own shutdown budget, what they get to exit before they are killed.
_EXIT_MARGIN_SECONDS = 2.0


def prepare() -> None:
    """Migrate the database and open the spool once (moving a malformed file aside), so the
    processes started next do not race on either. Run in a process of its own (`prepared`)."""
    from service.db import create_db_engine
    from service.dbsetup import DatabaseSetup
    from service.spool.store import Spool

    settings = Settings()
    engine = create_db_engine(
        settings.database_url, deadline_seconds=settings.database_deadline_seconds
    )
    try:
        # A database that cannot be reached is logged and left to the web processes to set up
        # once it answers: ingest must start without it.
        DatabaseSetup(engine, settings, admin=False).first_attempt()
    finally:
        engine.dispose()
    Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes).close()


def prepared() -> bool:
    """Run `prepare` in a short-lived process, so this one never holds the app's modules."""
    done = subprocess.run(
        [sys.executable, "-c", "from service.prefork import prepare; prepare()"], check=False
    )
    return done.returncode == 0


def bind(host: str, port: int) -> socket.socket:
    """Return a listening TCP socket on `host:port` that child processes may inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(_BACKLOG)
    listener.set_inheritable(True)
    return listener


def web_argv(args: argparse.Namespace, fd: int, index: int) -> list[str]:
    """Return the command line of web process `index`, accepting on inherited socket `fd`."""
    argv = [sys.executable, "-m", "service", "serve", "--host", args.host, "--port", str(args.port)]
    argv += ["--fd", str(fd), "--processor", "none", "--log-level", args.log_level]
    if index:
        return [*argv, "--secondary"]
    for option in ("syslog_port", "syslog_source", "tls_cert", "tls_key"):
        value = getattr(args, option, None)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", str(value)]
    return argv


def serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """Serve with `args.workers` web processes and one processor process until signalled."""
    if not prepared():
        log.error("the database could not be migrated or the spool opened; see above")
        return 1
    listener = bind(args.host, args.port)
    host, port = listener.getsockname()[:2]
    fd = listener.fileno()
    web = [
        Child(f"drainwatch-web-{index}", web_argv(args, fd, index), pass_fds=(fd,))
        for index in range(args.workers)
    ]
    processor = processor_child(args.log_level) if args.processor == "process" else None
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for child in web:
        child.start()
    if processor is not None:
        processor.start()
    log.info(
        "Uvicorn running on http://%s:%d in %d web processes, the processor in %s (pid %d)",
        host,
        port,
        args.workers,
        "a process of its own" if processor is not None else "none here",
        os.getpid(),
    )
    while not stop.wait(1.0):
        pass
    log.info("stopping %d web processes, then the processor", len(web))
    listener.close()
    budget = settings.shutdown_timeout_seconds
    stoppers = [
        threading.Thread(target=child.stop, args=(budget + _EXIT_MARGIN_SECONDS,)) for child in web
    ]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    if processor is not None:
        processor.stop(budget + _EXIT_MARGIN_SECONDS)
    return 0
