"""Outages served: the JSON API, the markdown report, the pages, and outages that grow across
batches (an incident that ties two outages together merges them)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, post_lines

LOOPS = (
    "2025-10-09 07:40:00,000 - db - WARNING - [DB_DOWN] op=a try=1/5 sleep=2s reason=X\n"
    "2025-10-09 07:44:00,000 - db - WARNING - [DB_DOWN] op=b try=1/5 sleep=2s reason=X\n"
)
# Between the two loops and within reach of both; its text carries markup a page must escape.
NEON = (
    "2025-10-09 07:42:00,000 - server.error_handlers - ERROR - [DB_ERROR] GET /api/<b>leads</b> "
    "-> 503: (psycopg2.OperationalError) connection to server failed: ERROR:  Endpoint has been "
    "disabled. Enable it using Neon API and retry.\n"
)
RECOVERED = (
    "2025-10-09 07:47:00,000 - db - INFO - [DB_RECOVERED] op=a after 3 attempts\n"
    "2025-10-09 07:47:30,000 - db - INFO - [DB_RECOVERED] op=b after 4 attempts\n"
)


def outages(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/outages{query}", auth=ADMIN)
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["outages"]
    return found


def test_an_incident_that_ties_two_outages_together_merges_them(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", LOOPS)
    runtime.processor.process_all()
    assert len(outages(client)) == 2
    post_lines(client, "api", NEON)
    runtime.processor.process_all()
    [outage] = outages(client)
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert sorted(outage["incidents"]) == sorted(i["id"] for i in incidents)
    assert {i["outage_id"] for i in incidents} == {outage["id"]}
    neon = next(i for i in incidents if i["signature"] == "neon.endpoint-disabled")
    assert outage["cause_id"] == neon["id"]
    assert outage["title"] == neon["title"]
    assert outage["started_at"] == "2025-10-09T07:40:00+00:00"


def test_the_api_lists_filters_and_shows_one_outage_with_its_incidents(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", LOOPS + NEON)
    runtime.processor.process_all()
    [outage] = outages(client, "?status=open&source=api")
    assert outages(client, "?status=resolved") == []
    assert outages(client, "?source=other") == []
    detail = client.get(f"/api/outages/{outage['id']}", auth=ADMIN).json()
    assert [i["id"] for i in detail["incidents"]] == outage["incidents"]
    assert {i["signature"] for i in detail["incidents"]} == {
        "app.db-outage",
        "neon.endpoint-disabled",
    }
    assert detail["impact"]["incidents"] == 3
    post_lines(client, "api", RECOVERED)
    runtime.processor.process_all()
    [done] = outages(client, "?status=resolved")
    assert done["ended_at"] == "2025-10-09T07:47:30+00:00"
    assert done["impact"]["duration_seconds"] == 450


def test_unknown_outages_answer_404_and_a_bad_filter_422(client: TestClient) -> None:
    for path in (
        "/api/outages/999",
        "/api/outages/0",
        f"/api/outages/{2**70}",
        "/outages/9/report.md",
    ):
        response = client.get(path, auth=ADMIN)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
    assert client.get("/api/outages?status=maybe", auth=ADMIN).status_code == 422
    assert client.get("/api/outages").status_code == 401


def test_the_report_and_the_pages_tell_the_outage(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", LOOPS + NEON + RECOVERED)
    runtime.processor.process_all()
    [outage] = outages(client)
    report = client.get(f"/outages/{outage['id']}/report.md", auth=ADMIN)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/markdown")
    assert report.text.startswith("# Critical: `ERROR: Endpoint has been disabled.")
    assert report.text.splitlines()[0].endswith(" on `api`, and 2 more incidents")
    assert "**Status:** resolved at 07:47:30" in report.text
    page = client.get(f"/outages/{outage['id']}", auth=ADMIN)
    assert page.status_code == 200
    assert "<b>leads</b>" not in page.text and "&lt;b&gt;leads&lt;/b&gt;" in page.text
    assert '<svg class="chart spans"' in page.text
    for incident_id in outage["incidents"]:
        assert f'href="/incidents/{incident_id}"' in page.text
    listing = client.get("/outages?status=resolved", auth=ADMIN)
    assert listing.status_code == 200 and f'href="/outages/{outage["id"]}"' in listing.text
    assert "No outages here" in client.get("/outages?status=open", auth=ADMIN).text
    incident_page = client.get(f"/incidents/{outage['cause_id']}", auth=ADMIN)
    assert incident_page.status_code == 200


def test_an_incident_report_names_its_outage_and_siblings(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", LOOPS + NEON)
    runtime.processor.process_all()
    [outage] = outages(client)
    cause = outage["cause_id"]
    text = client.get(f"/incidents/{cause}/report.md", auth=ADMIN).text
    others = [i for i in outage["incidents"] if i != cause]
    row = next(line for line in text.splitlines() if line.startswith("- **Outage:** "))
    assert row.startswith(f"- **Outage:** #{outage['id']}, with ")
    assert row.endswith(f"/outages/{outage['id']}")
    for other in others:
        assert f"#{other} (`app.db-outage`)" in row


def test_the_overview_lists_open_outages_and_the_incident_page_links_its_outage(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", LOOPS + NEON)
    runtime.processor.process_all()
    [outage] = outages(client)
    overview = client.get("/", auth=ADMIN).text
    assert "Open outages" in overview and f'href="/outages/{outage["id"]}"' in overview
    page = client.get(f"/incidents/{outage['cause_id']}", auth=ADMIN).text
    assert f'<a href="/outages/{outage["id"]}">#{outage["id"]}</a>, with ' in page


def test_a_deploy_marker_that_ends_a_batch_takes_its_time_from_the_next_one(
    client: TestClient, runtime: Any
) -> None:
    from sqlmodel import Session, select

    from service.models import Deploy, TimelineEntry

    post_lines(
        client,
        "web",
        "2025-10-27 14:19:10,118 [INFO] api: Starting API\n==> Your service is live 🎉\n",
    )
    runtime.processor.process_all()
    with Session(runtime.engine) as session:
        [deploy] = session.exec(select(Deploy)).all()
        assert deploy.live_at is None  # only a lower bound so far
    post_lines(client, "web", "2025-10-27 14:20:30,000 [INFO] api: GET /x -> 200\n")
    runtime.processor.process_all()
    with Session(runtime.engine) as session:
        [deploy] = session.exec(select(Deploy)).all()
        assert deploy.live_at is not None
        assert deploy.live_at.isoformat() == "2025-10-27T14:19:10.118000+00:00"
        [entry] = session.exec(select(TimelineEntry).where(TimelineEntry.kind == "deploy-live"))
        assert entry.text.startswith("about 14:19:10 (the line has no time of its own): ")


def test_a_marker_the_next_timed_line_does_not_bound_keeps_no_time(
    client: TestClient, runtime: Any
) -> None:
    from sqlmodel import Session, select

    from service.models import Deploy

    post_lines(
        client,
        "web",
        "2025-10-27 14:19:10,118 [INFO] api: Starting API\n==> Your service is live 🎉\n",
    )
    runtime.processor.process_all()
    post_lines(client, "web", "2025-10-27 15:30:00,000 [INFO] api: GET /x -> 200\n")
    runtime.processor.process_all()
    with Session(runtime.engine) as session:
        [deploy] = session.exec(select(Deploy)).all()
        assert deploy.live_at is None
