"""Knowledge text filled from an incident's own evidence; what the log lacks is said in words."""

from __future__ import annotations

from service.ingest.records import Frame
from service.models import IncidentEndpoint
from service.reports.knowledge import evidence_values, fill_text, missing_phrase

APP = Frame(file="/srv/app/api/orders.py", line=40, function="list_orders")
LIBRARY = Frame(
    file="/usr/lib/python3.11/site-packages/sqlalchemy/orm/query.py", line=9, function="first"
)


def test_a_captured_value_fills_its_code_span() -> None:
    assert (
        fill_text("The operation `{op}` failed.", {"op": "sync"}) == "The operation `sync` failed."
    )


def test_a_missing_value_reads_as_plain_words_not_a_placeholder() -> None:
    text = fill_text("Where it failed: `{frame}`. Which request: {endpoint}.", {})
    assert text == (
        "Where it failed: the log shows no traceback, so no application frame. "
        "Which request: the log names no endpoint."
    )


def test_a_missing_value_inside_code_stays_a_visible_template() -> None:
    text = "Run `pip install {package}`:\n```python\n@app.get('/items/{item_id}')\n```"
    assert fill_text(text, {}) == text
    assert "`pip install psycopg`" in fill_text(text, {"package": "psycopg"})


def test_double_braces_are_a_literal_placeholder() -> None:
    assert fill_text("curl -w '%{{http_code}}'", {"http_code": "500"}) == "curl -w '%{http_code}'"


def test_evidence_takes_the_deepest_application_frame_and_the_top_failed_request() -> None:
    endpoint = IncidentEndpoint(
        incident_id=1, method="POST", path="/api/orders", status=500, hits=3
    )
    values = evidence_values({}, frames=(APP, LIBRARY), endpoints=(endpoint,), instances=("web.1",))
    assert values == {
        "file": "/srv/app/api/orders.py",
        "function": "list_orders",
        "frame": "/srv/app/api/orders.py:list_orders",
        "endpoint": "POST /api/orders",
        "method": "POST",
        "path": "/api/orders",
        "instance": "web.1",
    }


def test_captured_fields_win_over_what_the_report_found() -> None:
    values = evidence_values({"frame": "app/x.py:f"}, frames=(APP,))
    assert values["frame"] == "app/x.py:f"
    assert "endpoint" not in evidence_values({}, frames=(LIBRARY,))
    assert missing_phrase("module") == "the log names no module"
