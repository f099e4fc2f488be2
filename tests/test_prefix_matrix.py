"""Every signature's examples under every supported line prefix give the same hits and fields.

Each example goes through what a log goes through (parse_text, assemble, match) once bare and
once prefixed. Platform wrappings (syslog, journald, Heroku, Docker, a quote, ...) wrap every line
as it is. An app's own format (plain logging, gunicorn, uvicorn) heads every line of the examples
that carry no header at all: a log has one app format, and wrapping `INFO:     Waiting ...` in a
second one is no log anybody writes. The outermost instance wins by design, so `instance` is not
compared under a family that names its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from service.ingest.assemble import assemble
from service.ingest.headers import parse_line, parse_text
from service.signatures.engine import Matcher
from service.signatures.loader import load_signatures
from service.signatures.templates import TEMPLATE_SIGNATURE

BUNDLED = Path(__file__).resolve().parents[1] / "patterns"
LIBRARY = load_signatures([BUNDLED])
CASES = [
    (rule.id, case.label, case.example.text)
    for rule in LIBRARY.signatures
    for case in rule.cases
    if case.example.matches and not case.known_miss
]


@dataclass(frozen=True)
class Family:
    """A prefix family: what goes before each line, whether it is the app's own format."""

    prefix: str
    app_format: bool = False
    names_instance: bool = False


FAMILIES = {
    "plain-logging": Family("2024-07-15 10:02:14,551 ERROR ", app_format=True),
    "plain-logging-logger": Family("2024-07-15 10:02:14,551 - app.main - ERROR - ", True),
    "level-logger-brackets": Family("2024-07-15 10:02:14,551 ERROR [app.main] ", True),
    "level-only": Family("ERROR [app.main] ", app_format=True),
    "gunicorn": Family("[2024-07-15 10:02:14 +0000] [812] [ERROR] ", True, True),
    "uvicorn": Family("ERROR:    ", app_format=True),
    "heroku": Family("2024-07-15T10:02:14.123456+00:00 app[web.1]: ", names_instance=True),
    "logplex": Family("<190>1 2024-07-15T10:02:14.123456+00:00 host app web.1 - ", False, True),
    "rfc5424": Family("<134>1 2024-07-15T10:02:14.123Z myhost myapp 812 - - ", False, True),
    "rfc3164": Family("<134>Jul 15 10:02:14 myhost myapp[812]: ", names_instance=True),
    "journald-short": Family("Jul 15 10:02:14 myhost gunicorn3[812]: ", names_instance=True),
    "journald-iso": Family("2024-07-15T10:02:14+0000 myhost gunicorn3[812]: ", False, True),
    "prog-pid": Family("gunicorn[812]: ", names_instance=True),
    "compose-v1": Family("web_1  | ", names_instance=True),
    "compose-v2": Family("web-1  | ", names_instance=True),
    "kubernetes-cri": Family("2024-07-15T10:02:14.123456789Z stdout F "),
    "markdown-quote": Family("> "),
    # Papertrail's event viewer: "Aug 13 18:08:48 pb2-production app/web.1: message".
    "papertrail": Family("Jul 15 10:02:14 my-app app/web.1: ", names_instance=True),
    # Render's dashboard copied: "Jan 14 10:30:15 PM  ==> Starting service", "10:17:37 PM  ...".
    "render-dashboard-date": Family("Jul 15 10:02:14 AM  "),
    "render-dashboard-clock": Family("10:02:14 PM  "),
    "render-dashboard-instance": Family("10:17:39 PM  [hh4tw] ", names_instance=True),
    "iso-time": Family("2024-07-15T10:02:14.123Z "),
}

Outcome = list[tuple[str, dict[str, str]]]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return LIBRARY.matcher()


def _outcome(matcher: Matcher, text: str, *, drop_instance: bool) -> Outcome:
    key = (text, drop_instance)
    if key not in _SEEN:
        _SEEN[key] = _match(matcher, text, drop_instance=drop_instance)
    return _SEEN[key]


# The bare examples are matched once for every family (the matcher is the same module-wide).
_SEEN: dict[tuple[str, bool], Outcome] = {}


def _match(matcher: Matcher, text: str, *, drop_instance: bool) -> Outcome:
    out: Outcome = []
    for event in assemble(parse_text(text, source="matrix")):
        hit = matcher.match(event)
        # The mined-template fallback follows the line's level wherever the level is written (a
        # family's header or the text), as designed; tests/incidents/test_templates.py has it.
        if hit is not None and hit.signature.id != TEMPLATE_SIGNATURE:
            fields = {
                k: v for k, v in hit.fields.items() if not (drop_instance and k == "instance")
            }
            out.append((hit.signature.id, fields))
    return out


def _prefixed(text: str, family: Family) -> str | None:
    """Return the example under the family's prefix, or None when an app format does not apply."""
    lines = text.split("\n")
    if family.app_format and any(parse_line(line, source="").headed for line in lines):
        return None
    return "\n".join(family.prefix + line for line in lines)


def test_the_matrix_covers_every_signature() -> None:
    assert {ident for ident, _, _ in CASES} == {rule.id for rule in LIBRARY.signatures}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_example_gives_the_same_hits_under_the_prefix(matcher: Matcher, name: str) -> None:
    family = FAMILIES[name]
    failures, compared = [], 0
    for ident, label, text in CASES:
        prefixed = _prefixed(text, family)
        if prefixed is None:
            continue
        compared += 1
        bare = _outcome(matcher, text, drop_instance=family.names_instance)
        got = _outcome(matcher, prefixed, drop_instance=family.names_instance)
        if got != bare:
            failures.append(f"{ident}/{label}: bare {bare} prefixed {got}")
    assert compared >= len(CASES) // 3
    assert not failures, f"{len(failures)} examples differ under {name!r}:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_prefixed_example_keeps_its_own_signature(matcher: Matcher, name: str) -> None:
    """Equal outcomes are no free pass: an example whose signature hits bare hits prefixed too."""
    family = FAMILIES[name]
    missing = []
    for ident, label, text in CASES:
        prefixed = _prefixed(text, family)
        if prefixed is None or ident not in _signatures(matcher, text):
            continue
        if ident not in _signatures(matcher, prefixed):
            missing.append(f"{ident}/{label}")
    assert not missing, f"{len(missing)} examples lose their signature under {name!r}: {missing}"


def _signatures(matcher: Matcher, text: str) -> set[str]:
    return {ident for ident, _ in _outcome(matcher, text, drop_instance=True)}
