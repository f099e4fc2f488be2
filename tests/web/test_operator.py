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


def test_action_items_set_by_the_api_replace_the_suggested_ones(
    client: TestClient, runtime: Any
) -> None:
    incident_id = open_incident(client, runtime)
    before = client.get(f"/incidents/{incident_id}/report.md", auth=ADMIN).text
    assert "Suggested" in before and "(owner: unassigned)" in before
    items = [
        {"text": "Restore the logger import in routes.py", "priority": "P1", "owner": "maya"},
        {"text": "Run ruff F821 in CI", "priority": "P3", "done": True},
    ]
    changed = client.patch(
        f"/api/incidents/{incident_id}", json={"action_items": items}, auth=ADMIN
    )
    assert changed.status_code == 200
    assert changed.json()["action_items"][0]["owner"] == "maya"
    report = client.get(f"/incidents/{incident_id}/report.md", auth=ADMIN).text
    assert "- [ ] **P1** Restore the logger import in routes.py (owner: maya)" in report
    assert "- [x] **P3** Run ruff F821 in CI (owner: unassigned)" in report
    assert "Suggested" not in report
    bad = client.patch(
        f"/api/incidents/{incident_id}",
        json={"action_items": [{"text": "x", "priority": "P9"}]},
        auth=ADMIN,
    )
    assert bad.status_code == 422


def test_the_page_form_edits_action_items_and_an_untouched_box_keeps_them_suggested(
    client: TestClient, runtime: Any
) -> None:
    from tests.web.test_guard import log_in

    incident_id = open_incident(client, runtime)
    token = log_in(client)
    page = client.get(f"/incidents/{incident_id}").text
    assert 'name="action_items"' in page and "(suggested until you change them)" in page
    shown = page.split('name="action_items_shown" value="')[1].split('"')[0]
    path = f"/incidents/{incident_id}/update"
    same = {"csrf_token": token, "action_items": shown, "action_items_shown": shown}
    assert client.post(path, data=same, follow_redirects=False).status_code == 303
    assert client.get(f"/api/incidents/{incident_id}", auth=ADMIN).json()["action_items"] == []
    edited = {**same, "action_items": "P1 | ana | Add the logger import"}
    assert client.post(path, data=edited, follow_redirects=False).status_code == 303
    stored = client.get(f"/api/incidents/{incident_id}", auth=ADMIN).json()["action_items"]
    assert stored == [
        {"text": "Add the logger import", "priority": "P1", "owner": "ana", "done": False}
    ]
    assert "Add the logger import" in client.get(f"/incidents/{incident_id}").text
