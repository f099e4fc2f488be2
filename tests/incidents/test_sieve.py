"""The sieve: one prefilter pass over a batch finds the events worth matching; the rest are only
counted, and what it finds is what matching each event on its own would have found."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.incidents.sieve import PLAIN, Request, Seen, Sight, sift
from service.ingest.access import parse_access
from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.signatures.engine import Matcher
from service.signatures.loader import load_signatures

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
LOG = """\
2025-10-09 07:40:01,100 - app.api.leads - INFO - synced 12 contacts in 0.3s
2025-10-09 07:40:01,200 - app.api.leads - ERROR - could not sync contact 7
2025-10-09 07:40:02,000 - app.core.database - INFO - sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called
INFO:     10.0.0.1:5432 - "GET /api/v1/leads HTTP/1.1" 200 OK
==> Your service is live 🎉
2025-10-09T07:40:03.000+00:00 heroku[router]: at=info method=GET path="/" status=200 bytes=5
2025-10-09 07:40:04,000 - celery.worker - INFO - Job lead_sync finished: 3 new, 0 updated
[2025-10-09 07:40:05 +0000] [27] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/app/main.py", line 3, in <module>
NameError: name 'logger' is not defined
"""


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signatures([BUNDLED]).signatures)


def test_only_plain_lines_are_left_to_be_counted(matcher: Matcher) -> None:
    events = assemble(parse_text(LOG, source="api"))
    sights = sift(matcher, events)
    plain = [event.text for event, sight in zip(events, sights, strict=True) if sight is PLAIN]
    assert plain == [
        "synced 12 contacts in 0.3s",
        "Job lead_sync finished: 3 new, 0 updated",
    ]

    def sight_of(start: str) -> Seen:
        return next(s for e, s in zip(events, sights, strict=True) if e.text.startswith(start))

    assert sight_of("Exception in ASGI") is None  # a traceback: matched as it always was
    error, greenlet = sight_of("could not sync"), sight_of("sqlalchemy.exc.MissingGreenlet")
    assert isinstance(error, Sight) and not error.message  # no keyword, but an error level
    assert isinstance(greenlet, Sight) and greenlet.message  # a signature's keyword
    marker = sight_of("==> Your service")
    assert isinstance(marker, Sight) and marker.platform
    for access_line in ("10.0.0.1:5432", "at=info method=GET"):
        request = sight_of(access_line)
        assert isinstance(request, Request)  # a bare access line: only counted as a request
        assert request.access.status == 200


def test_an_access_line_that_is_more_is_looked_at_whole(matcher: Matcher) -> None:
    log = (
        'INFO:     10.0.0.1:5432 - "GET /x HTTP/1.1" 500 Internal Server Error\n'
        'INFO:     10.0.0.1:5432 - "GET /x HTTP/1.1" 200 OK ==> Build failed\n'
        "2025-10-09T07:40:03.000+00:00 heroku[router]: at=error code=H12 method=GET "
        'path="/" status=503 bytes=0\n'
        "INFO:     10.0.0.1 said method=nothing\n"
    )
    events = assemble(parse_text(log, source="api"))
    sights = sift(matcher, events)
    assert [type(sight) for sight in sights] == [Sight, Sight, Sight, Sight]
    assert all(isinstance(s, Sight) and s.platform for s in sights)
    assert [parse_access(e.text) is not None for e in events] == [True, True, True, False]


def test_what_it_finds_is_what_each_event_alone_finds(matcher: Matcher) -> None:
    events = assemble(parse_text(LOG, source="api"))
    for event, sight in zip(events, sift(matcher, events), strict=True):
        if sight is None:
            continue
        if isinstance(sight, Request):
            assert matcher.match(event) is None
            assert sight.access == parse_access(event.text)
            continue
        sifted = matcher.match(event, sifted=(sight.message, sight.written))
        assert sifted == matcher.match(event)


def test_a_line_feed_inside_a_line_to_sift_is_refused(matcher: Matcher) -> None:
    with pytest.raises(ValueError, match="line feed"):
        matcher.sift(["one", "two\nthree"])
