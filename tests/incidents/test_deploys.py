"""Deploy markers, the deploy an incident began after, and resolution by a deploy's silence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.incidents.deploys import deploy_marker, record_marker
from service.incidents.lifecycle import attach_hit
from service.incidents.sweep import sweep_source
from service.models import Deploy, Incident
from service.sources import ensure_source
from tests.factories import T0, at, event, hit, signature

NOW = T0 + timedelta(days=30)


@pytest.mark.parametrize(
    ("message", "stage", "platform", "version"),
    [
        ("==> Cloning from https://github.com/acme/api", "build", "render", ""),
        (
            "==> Checking out commit cf7e3d79b2a64c1d8e5f0a3b in branch main",
            "build",
            "render",
            "cf7e3d79b2a6",
        ),
        ("==> Deploying...", "deploying", "render", ""),
        ("==> Your service is live 🎉", "live", "render", ""),
        ("==> Exited with status 1", "failed", "render", ""),
        ("==> Build failed 😞", "failed", "render", ""),
        ("Release v42 created by dev@example.com", "deploying", "heroku", "v42"),
        ("State changed from starting to up", "live", "heroku", ""),
        ("State changed from up to crashed", "failed", "heroku", ""),
    ],
)
def test_markers_are_recognised(message: str, stage: str, platform: str, version: str) -> None:
    marker = deploy_marker(message)
    assert marker is not None
    assert (marker.stage, marker.platform, marker.version) == (stage, platform, version)


@pytest.mark.parametrize(
    "message",
    [
        "==> Exited with status 0",
        "INFO: ==> Deploying...",
        "Released the lock",
        "State changed from up to down (maintenance)",
    ],
)
def test_other_lines_are_not_markers(message: str) -> None:
    assert deploy_marker(message) is None


def mark(session: Session, message: str, seconds: float) -> Deploy:
    marker = deploy_marker(message)
    assert marker is not None
    return record_marker(session, "api", marker, time=at(seconds), text=message)


def test_render_markers_assemble_one_deploy(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        mark(session, "==> Checking out commit cf7e3d79b2a6 in branch main", 0)
        mark(session, "==> Deploying...", 60)
        deploy = mark(session, "==> Your service is live 🎉", 90)
        session.commit()
        assert session.exec(select(Deploy)).all() == [deploy]
        assert (deploy.status, deploy.started_at, deploy.live_at, deploy.version) == (
            "live",
            at(0),
            at(90),
            "cf7e3d79b2a6",
        )


def test_a_crash_loop_before_live_fails_the_deploy(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        mark(session, "==> Deploying...", 0)
        failed = mark(session, "==> Exited with status 1", 20)
        assert failed.status == "failed" and failed.failed_at == at(20)
        again = mark(session, "==> Deploying...", 60)
        assert again.id != failed.id


def test_incident_knows_its_trigger_and_is_resolved_by_the_next_deploy(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        bad = mark(session, "==> Deploying...", 0)
        mark(session, "==> Your service is live 🎉", 30)
        incident = attach_hit(session, hit(sig, event("boom", seconds=100)), now=NOW)
        assert incident is not None and incident.deploy_id == bad.id
        fix = mark(session, "==> Deploying...", 200)
        mark(session, "==> Your service is live 🎉", 260)
        source.last_answered_at = at(300)
        source.last_log_time = at(260 + 5 * 60)
        assert sweep_source(session, source, {}) == []
        source.last_log_time = at(260 + 10 * 60)
        assert sweep_source(session, source, {}) == [incident]
        session.commit()
        stored = session.exec(select(Incident)).one()
        assert (stored.status, stored.resolution, stored.resolved_at) == (
            "resolved",
            "deploy",
            at(260),
        )
        assert stored.resolved_by_deploy_id == fix.id


def test_a_deploy_followed_by_health_checks_alone_resolves_nothing(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        source.last_answered_at = at(30)  # an answer before the deploy says nothing of it
        mark(session, "==> Your service is live 🎉", 60)
        source.last_log_time = at(60 + 30 * 60)
        assert sweep_source(session, source, {}) == []
        source.last_answered_at = at(61)
        [incident] = sweep_source(session, source, {})
        assert (incident.resolution, incident.resolved_at) == ("deploy", at(60))


def test_a_recurrence_does_not_blame_the_deploy_it_came_back_after(engine: Engine) -> None:
    sig = signature(quiet_minutes=5)
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        first = attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        fix = mark(session, "==> Your service is live 🎉", 60)
        source.last_answered_at = at(70)
        source.last_log_time = at(60 + 10 * 60)
        # The deploy's silence (2 min) is shown before the quiet period (5 min) is over.
        quick = timedelta(minutes=2)
        assert sweep_source(session, source, {sig.id: sig}, deploy_quiet=quick) == [first]
        again = attach_hit(session, hit(sig, event("boom", seconds=900)), now=NOW)
        assert first is not None and again is not None and again.id != first.id
        assert first.resolved_by_deploy_id == fix.id
        assert (again.previous_id, again.deploy_id) == (first.id, None)
        later = mark(session, "==> Deploying...", 1000)
        source.last_answered_at = at(1001)
        source.last_log_time = at(1200)
        sweep_source(session, source, {sig.id: sig})
        assert again.resolution == "quiet" and later.id is not None
        # Its quiet period never showed it fixed: the failure is older than the later deploy.
        regression = attach_hit(session, hit(sig, event("boom", seconds=1700)), now=NOW)
        assert regression is not None and regression.previous_id == again.id
        assert regression.deploy_id is None


def test_quiet_period_sweep_resolves_in_log_time(engine: Engine) -> None:
    sig = signature(quiet_minutes=15)
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        source.last_log_time = at(14 * 60)
        assert sweep_source(session, source, {sig.id: sig}) == []
        source.last_log_time = at(15 * 60)
        [incident] = sweep_source(session, source, {sig.id: sig})
        assert (incident.resolution, incident.resolved_at) == ("quiet", at(15 * 60))


def test_hits_after_the_deploy_keep_the_incident_open(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        mark(session, "==> Your service is live 🎉", 60)
        attach_hit(session, hit(sig, event("boom", seconds=120)), now=NOW)
        source.last_log_time = at(60 + 11 * 60)
        assert sweep_source(session, source, {}) == []
        assert session.exec(select(Incident).order_by(col(Incident.id))).one().status == "open"


def test_heroku_release_then_dyno_up_is_one_live_deploy(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        mark(session, "Deploy 1a2b3c4d by dev@example.com", 0)
        mark(session, "Release v42 created by dev@example.com", 5)
        deploy = mark(session, "State changed from starting to up", 40)
        assert (deploy.status, deploy.version, deploy.started_at, deploy.live_at) == (
            "live",
            "1a2b3c4d",
            at(0),
            at(40),
        )
        assert len(session.exec(select(Deploy)).all()) == 1


def test_crashes_after_going_live_do_not_make_deploys(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        mark(session, "==> Deploying...", 0)
        live = mark(session, "==> Your service is live 🎉", 30)
        assert mark(session, "==> Exited with status 1", 300).id == live.id
        assert live.status == "live"
        assert len(session.exec(select(Deploy)).all()) == 1


def test_a_dyno_crash_or_restart_outside_a_release_is_not_a_deploy(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "shop", now=NOW)
        for line in ("State changed from up to crashed", "State changed from starting to up"):
            marker = deploy_marker(line)
            assert marker is not None
            assert record_marker(session, "shop", marker, time=T0, text=line) is None
        session.flush()
        assert session.exec(select(Deploy)).all() == []


def test_a_quiet_period_that_ends_before_the_deploy_is_proven_wins_whatever_the_clock(
    engine: Engine,
) -> None:
    # Line by line the quiet period (5 min after the hit) is over before the deploy's 10 min of
    # silence are; a scan whose clock is already far ahead must resolve the same way.
    sig = signature(quiet_minutes=5)
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        first = attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        mark(session, "==> Your service is live 🎉", 60)
        source.last_answered_at = at(70)
        source.last_log_time = at(3600)
        assert sweep_source(session, source, {sig.id: sig}) == [first]
        assert first is not None
        assert (first.resolution, first.resolved_at) == ("quiet", at(300))
        assert first.resolved_by_deploy_id is None
