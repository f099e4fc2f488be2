"""Cause, fix and verification from the incident's own evidence: the variant is chosen by what the
log shows, the failing line is quoted, the failing request is replayed, advice the log shows already
followed is left out, and what worked is said."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.db import migrated_engine
from service.models import Incident
from service.reports.render import incident_markdown, report_environment
from service.runtime import SignatureBook
from service.scan import OFFLINE, ScanInput, scan_inputs
from service.settings import Settings
from tests.conftest import ROOT

GREENLET = (
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only()"
    " here. Was IO attempted in an unexpected place?"
)
RAISE = """\
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet("""
# An aiohttp app: a relationship lazy-loaded in a DELETE handler.
LAZY_LOAD = f"""\
2025-09-24 10:00:01,100 ERROR aiohttp.server Error handling request
Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/aiohttp/web_protocol.py", line 452, in _handle_request
    resp = await request_handler(request)
  File "/srv/inventory/handlers/services.py", line 58, in delete_service
    owner = service.owner.email
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/orm/attributes.py", line 566, in __get__
    return self.impl.get(state, dict_)
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/orm/strategies.py", line 922, in _load_for_state
    return self._emit_lazyload(
{RAISE}
{GREENLET}
2025-09-24 10:00:01,102 INFO aiohttp.access 10.0.0.5 [24/Sep/2025:10:00:01 +0000] "DELETE /services/42 HTTP/1.1" 500 245 "-" "python-requests/2.31"
"""
# A FastAPI app: the sync Session API called in an async route.
SYNC_CALL = f"""\
2025-09-24 11:00:01,100 ERROR uvicorn.error Exception in ASGI application
Traceback (most recent call last):
  File "/app/shop/routes/orders.py", line 31, in confirm_order
    order = db.query(Order).filter(Order.id == order_id).first()
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/orm/query.py", line 2759, in first
    return self.limit(1)._iter().first()
{RAISE}
{GREENLET}
"""
# A serializer reading a relationship after the route returned.
SERIALIZER = f"""\
2025-09-24 12:00:01,100 ERROR uvicorn.error Exception in ASGI application
Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/fastapi/routing.py", line 155, in serialize_response
    return field.serialize(value)
  File "/usr/local/lib/python3.12/site-packages/sqlalchemy/orm/strategies.py", line 922, in _load_for_state
    return self._emit_lazyload(
{RAISE}
{GREENLET}
"""
GUNICORN = """\
[2025-09-24 23:58:01 +0000] [1] [INFO] Booting worker with pid: 17
[2025-09-24 23:58:31 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:17)
[2025-09-24 23:58:32 +0000] [1] [ERROR] Worker (pid:17) was sent SIGKILL! Perhaps out of memory?
[2025-09-24 23:58:33 +0000] [1] [INFO] Booting worker with pid: 21
"""
OOM = "[2025-09-24 23:58:32 +0000] [1] [ERROR] Worker (pid:23) was sent SIGKILL! Perhaps out of memory?\n"


@pytest.fixture(scope="module")
def scanned() -> Iterator[tuple[Engine, SignatureBook, Settings]]:
    settings = Settings()
    with migrated_engine("sqlite://") as engine:
        yield engine, SignatureBook(settings), settings


def reports(
    scanned: tuple[Engine, SignatureBook, Settings], text: str, source: str, tmp_path: Path
) -> dict[str, str]:
    """Scan `text` as source `source`; return each incident's report, by signature and kind."""
    engine, book, settings = scanned
    log = tmp_path / f"{source}.log"
    log.write_text(text)
    scan_inputs(engine, book.matcher, [ScanInput(str(log), source)], now=OFFLINE)
    env = report_environment(settings.templates_dir)
    with Session(engine) as session:
        incidents = session.exec(
            select(Incident).where(Incident.source == source).order_by(col(Incident.id))
        ).all()
        return {
            f"{i.signature}:{i.fields.get('kind', '')}": incident_markdown(
                session, i, book.by_id, public_url=settings.public_url, env=env
            )
            for i in incidents
        }


def section(report: str, title: str) -> str:
    """Return the text of one `## title` section of a report."""
    return report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_missing_greenlet_reports_of_different_code_paths_differ(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    lazy = reports(scanned, LAZY_LOAD, "inventory", tmp_path)["sqlalchemy.missing-greenlet:"]
    sync = reports(scanned, SYNC_CALL, "shop", tmp_path)["sqlalchemy.missing-greenlet:"]
    shown = reports(scanned, SERIALIZER, "profiles", tmp_path)["sqlalchemy.missing-greenlet:"]
    causes = [
        section(r, "Root cause analysis").split("Where to look")[0] for r in (lazy, sync, shown)
    ]
    fixes = [section(r, "Resolution") for r in (lazy, sync, shown)]
    assert len(set(causes)) == 3
    assert len(set(fixes)) == 3
    assert "lazy-loaded" in causes[0]
    assert "synchronous `Session` API" in causes[1]
    assert "response serializer" in causes[2]


def test_verification_replays_the_endpoint_and_method_seen_failing(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    report = reports(scanned, LAZY_LOAD, "services", tmp_path)["sqlalchemy.missing-greenlet:"]
    steps = section(report, "Verification")
    assert "`curl -si -X DELETE https://HOST/services/{id} | head -n 1`" in steps
    assert "POST" not in steps
    assert "/api/" not in steps


def test_verification_says_plainly_when_the_log_names_no_endpoint(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    report = reports(scanned, SYNC_CALL, "no-access-log", tmp_path)["sqlalchemy.missing-greenlet:"]
    steps = section(report, "Verification")
    assert "call the endpoint that failed (the log names no endpoint) again" in steps
    assert "`curl -si -X METHOD https://HOST/PATH | head -n 1`" in steps


def test_where_to_look_quotes_the_failing_application_line(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    report = reports(scanned, LAZY_LOAD, "quoted", tmp_path)["sqlalchemy.missing-greenlet:"]
    look = section(report, "Root cause analysis").split("Where to look", 1)[1]
    assert "`/srv/inventory/handlers/services.py:58` in `delete_service`" in look
    assert "```python\nowner = service.owner.email\n```" in look


def test_sigkill_after_the_same_pids_worker_timeout_is_the_timeouts_own_kill(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    found = reports(scanned, GUNICORN, "workers", tmp_path)
    killed = found["gunicorn.worker-timeout:SIGKILL"]
    assert "gunicorn killed worker `17` itself" in killed
    assert "something other than its own timeout handling" not in killed
    assert "--max-requests" not in killed
    oom = reports(scanned, OOM, "oom", tmp_path)["gunicorn.worker-timeout:SIGKILL"]
    assert "something other than its own timeout handling" in oom
    # The fix's first step is the memory one there, and the timeout one after a timeout.
    assert "**First step:** Lower the peak memory" in oom
    assert "**First step:** Lower the peak memory" not in killed


def test_an_app_already_answering_503_is_told_it_worked_not_to_add_503s(
    scanned: tuple[Engine, SignatureBook, Settings], tmp_path: Path
) -> None:
    text = (ROOT / "sample_logs" / "scenarios" / "seed_db_outage" / "input.log").read_text()
    found = reports(scanned, text, "db", tmp_path)
    neon = found["neon.endpoint-disabled:"]
    assert "clean 503 instead of 500s" not in neon
    assert "Return 503 with `Retry-After`" not in neon
    assert "answered `503`, none with a 500" in section(neon, "Resolution")
    loop = found["app.db-outage:"]
    assert "Answer 503 instead of 500" not in loop
    worked = section(loop, "Resolution").split("What worked, as the log shows:", 1)[1]
    assert "answered `503`, none with a 500" in worked
    assert "came back by itself after 3 attempts" in worked
