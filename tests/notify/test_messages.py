"""What is sent to the webhook: the signature, the document, the back-off (Slack: test_slack)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

from service.models import Incident
from service.notify.deliver import sign, webhook_body
from service.notify.outcome import backoff
from tests.conftest import SCAN_FIELDS
from tests.factories import T0

SECRET = "whsec-test-secret"
BODY = b'{"event":"incident.opened"}'
# `printf '%s' '1700000000.{"event":"incident.opened"}' | openssl dgst -sha256 -hmac whsec-test-secret`
VECTOR = "58d92fdaa4ac4d350c2a26645be9bddb5ec2d934e9df4011efef87c1f30cfaf8"


def incident(**changes: object) -> Incident:
    found = Incident(
        id=7,
        signature="postgres.undefined-table",
        title="PostgreSQL relation does not exist",
        severity="critical",
        status="open",
        source="api",
        first_seen=T0,
        last_seen=T0 + timedelta(seconds=5),
        occurrences=3,
        fields={"relation": "users"},
        fingerprint="f" * 64,
        opened_at=T0,
    )
    for name, value in changes.items():
        setattr(found, name, value)
    return found


def test_sign_matches_a_known_vector() -> None:
    assert sign(SECRET, 1700000000, BODY) == f"t=1700000000,v1={VECTOR}"


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000001." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000001, BODY) == f"t=1700000001,v1={expected}"
    assert sign("other", 1700000001, BODY) != sign(SECRET, 1700000001, BODY)


def test_webhook_body_is_compact_json_with_the_scan_fields_id_and_url() -> None:
    body = webhook_body("incident.opened", incident(), "http://dw.test/")
    assert b": " not in body and b", " not in body
    document = json.loads(body)
    assert document["event"] == "incident.opened"
    assert document["incident"]["url"] == "http://dw.test/incidents/7"
    assert {k: document["incident"][k] for k in ("id", *SCAN_FIELDS)} == {
        "id": 7,
        "signature": "postgres.undefined-table",
        "title": "PostgreSQL relation does not exist",
        "severity": "critical",
        "status": "open",
        "source": "api",
        "first_seen": "2025-09-19T12:00:00+00:00",
        "last_seen": "2025-09-19T12:00:05+00:00",
        "occurrences": 3,
        "fields": {"relation": "users"},
    }


def test_webhook_body_is_the_same_bytes_for_the_same_incident() -> None:
    first = webhook_body("incident.opened", incident(), "http://dw.test")
    assert webhook_body("incident.opened", incident(), "http://dw.test") == first


def test_backoff_doubles_from_two_seconds_up_to_fifteen_minutes() -> None:
    assert [backoff(n, 0.5).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(20, 0.5) == timedelta(minutes=15)
    assert timedelta(seconds=1.8) <= backoff(1, 0.0) < backoff(1, 1.0) <= timedelta(seconds=2.2)
