"""Operators acknowledge, resolve by hand, and fill in what logs cannot know."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, post_lines

LINE = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined\n"


def open_incident(client: TestClient, runtime: Any) -> int:
    post_lines(client, "api", LINE)
    runtime.processor.process_all()
    incident_id: int = client.get("/api/incidents", auth=ADMIN).json()["incidents"][0]["id"]
    return incident_id


def test_acknowledge_then_resolve_with_a_note(client: TestClient, runtime: Any) -> None:
    incident_id = open_incident(client, runtime)
    acked = client.patch(
        f"/api/incidents/{incident_id}", json={"status": "acknowledged"}, auth=ADMIN
    ).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_at"]
    done = client.patch(
        f"/api/incidents/{incident_id}",
        json={
            "status": "resolved",
            "note": "logger import restored in routes.py",
            "fix_commit": "a939863",
        },
        auth=ADMIN,
    ).json()
    assert (done["status"], done["resolution"], done["fix_commit"]) == (
        "resolved",
        "manual",
        "a939863",
    )
    kinds = [t["kind"] for t in done["timeline"]]
    assert kinds == ["opened", "acknowledged", "note", "resolved"]
    report = client.get(f"/incidents/{incident_id}/report.md", auth=ADMIN).text
    assert "a939863" in report and "logger import restored" in report


def test_operator_fields_appear_in_the_report(client: TestClient, runtime: Any) -> None:
    incident_id = open_incident(client, runtime)
    client.patch(
        f"/api/incidents/{incident_id}",
        json={"owner": "maya", "business_impact": "Logins failed for **all** users"},
        auth=ADMIN,
    )
    report = client.get(f"/incidents/{incident_id}/report.md", auth=ADMIN).text
    assert "maya" in report
    assert "Logins failed for \\*\\*all\\*\\* users" in report


def test_a_resolved_incident_cannot_be_acknowledged(client: TestClient, runtime: Any) -> None:
    incident_id = open_incident(client, runtime)
    client.patch(f"/api/incidents/{incident_id}", json={"status": "resolved"}, auth=ADMIN)
    response = client.patch(
        f"/api/incidents/{incident_id}", json={"status": "acknowledged"}, auth=ADMIN
    )
    assert response.status_code == 409 and response.json()["error"] == "invalid_transition"


def test_a_hit_after_manual_resolution_opens_a_recurrence(client: TestClient, runtime: Any) -> None:
    incident_id = open_incident(client, runtime)
    client.patch(f"/api/incidents/{incident_id}", json={"status": "resolved"}, auth=ADMIN)
    post_lines(client, "api", LINE.replace("12:55:03", "13:05:03"))
    runtime.processor.process_all()
    newest = client.get("/api/incidents?status=open", auth=ADMIN).json()["incidents"][0]
    assert newest["previous_id"] == incident_id


def test_bad_updates_are_422_and_need_a_login(client: TestClient, runtime: Any) -> None:
    incident_id = open_incident(client, runtime)
    assert (
        client.patch(
            f"/api/incidents/{incident_id}", json={"status": "open"}, auth=ADMIN
        ).status_code
        == 422
    )
    assert client.patch(f"/api/incidents/{incident_id}", json={"owner": "x"}).status_code == 401
    assert client.patch("/api/incidents/999", json={"owner": "x"}, auth=ADMIN).status_code == 404
