"""A signature's knowledge filled in from one incident's own evidence: its captured fields, then
what the report found (the deepest application frame, the failed requests); a placeholder the log
gives no value for says so in words instead of showing `{name}`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from service.ingest.records import Frame
from service.models import Incident, IncidentEndpoint
from service.reports.evidence import Traceback
from service.reports.impact import Impact
from service.signatures.model import Knowledge, Signature
from service.signatures.schema import EVIDENCE_PLACEHOLDERS
from service.signatures.variants import Evidence, Sibling

# Captured values land inside prose and code spans alike, so only characters inert in both pass.
_UNSAFE = re.compile(r"[^\w.:/@=+, -]")
_UNSAFE_IN_ROUTE = re.compile(r"[^\w.:/@=+, {}-]")
_ROUTES = frozenset({"endpoint", "path"})
_MAX_VALUE = 200
# A placeholder alone in a code span (`{frame}`) becomes the code span or, with no value, the
# plain words; one inside a longer span or a fenced block is left as written when it has none,
# except the request's method and path, which a command shows as words to replace.
_TOKEN = re.compile(r"\{\{([a-z][a-z0-9_]*)\}\}|(`?)\{([a-z][a-z0-9_]*)\}(`?)")
_FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[^\n]*$", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_MISSING = {
    "endpoint": "the log names no endpoint",
    "method": "the log names no request method",
    "path": "the log names no request path",
    "frame": "the log shows no traceback, so no application frame",
    "file": "the log shows no traceback, so no application file",
    "function": "the log shows no traceback, so no application function",
    "exception": "the log names no exception type",
    "instance": "the log names no instance",
}

_IN_CODE = {"method": "METHOD", "path": "/PATH"}

__all__ = ["evidence_values", "fill_text", "filled_knowledge", "inert", "variant_evidence"]


def inert(value: object, *, route: bool = False) -> str:
    """Return a captured value with every character that markdown could act on replaced by `?`;
    a `route` (an endpoint, a path) keeps the braces of its masked parts (`/services/{id}`)."""
    unsafe = _UNSAFE_IN_ROUTE if route else _UNSAFE
    return unsafe.sub("?", str(value))[:_MAX_VALUE]


def evidence_values(
    fields: Mapping[str, object],
    *,
    frames: Sequence[Frame] = (),
    exception: str = "",
    endpoints: Sequence[IncidentEndpoint] = (),
    instances: Sequence[str] = (),
) -> dict[str, str]:
    """Return the values of the evidence placeholders this incident's log gives, nothing more."""
    values: dict[str, str] = {}
    application = [frame for frame in frames if frame.is_application]
    deepest = application[-1] if application else None
    if deepest is not None:
        values["file"] = deepest.file
        if deepest.function:
            values["function"] = deepest.function
        values["frame"] = f"{deepest.file}:{deepest.function}" if deepest.function else deepest.file
    if exception:
        values["exception"] = exception
    if endpoints:
        method, path = endpoints[0].method.strip(), endpoints[0].path
    else:
        method, path = str(fields.get("method", "")).strip(), str(fields.get("path", ""))
    if path:
        values["endpoint"] = f"{method} {path}".strip()
        values["path"] = path
        if method:
            values["method"] = method
    if instances:
        values["instance"] = instances[0]
    values.update({name: str(value) for name, value in fields.items() if value != ""})
    return {name: value for name, value in values.items() if name in EVIDENCE_PLACEHOLDERS}


def missing_phrase(name: str) -> str:
    """Return the plain words that stand where the log gives `name` no value."""
    return _MISSING.get(name, f"the log names no {name.replace('_', ' ')}")


def fill_text(text: str, values: Mapping[str, str]) -> str:
    """Return `text` with `{name}` placeholders filled from `values` (already inert)."""
    pieces: list[str] = []
    last = 0
    for block in _FENCE.finditer(text):
        pieces.append(_fill_prose(text[last : block.start()], values))
        pieces.append(_fill_code(block.group(0), values))
        last = block.end()
    pieces.append(_fill_prose(text[last:], values))
    return "".join(pieces)


def _fill_code(text: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{" + match.group(1) + "}"
        name = match.group(3)
        missing = _IN_CODE.get(name, "{" + name + "}")
        return match.group(2) + values.get(name, missing) + match.group(4)

    return _TOKEN.sub(substitute, text)


def _fill_prose(text: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{" + match.group(1) + "}"
        before, name, after = match.group(2), match.group(3), match.group(4)
        if name in values:
            return before + values[name] + after
        if before and after:
            return missing_phrase(name)
        return before + missing_phrase(name) + after

    pieces: list[str] = []
    last = 0
    # Inside a longer code span a missing value stays a visible template (`pip install {package}`).
    for span in _CODE_SPAN.finditer(text):
        if _TOKEN.fullmatch(span.group(0)):
            continue
        pieces.append(_TOKEN.sub(substitute, text[last : span.start()]))
        pieces.append(_fill_code(span.group(0), values))
        last = span.end()
    pieces.append(_TOKEN.sub(substitute, text[last:]))
    return "".join(pieces)


def variant_evidence(
    fields: Mapping[str, object],
    *,
    traceback: Traceback,
    messages: Sequence[str] = (),
    endpoints: Sequence[IncidentEndpoint] = (),
    impact: Impact | None = None,
    siblings: Sequence[Incident] = (),
    recovered_alone: bool = False,
) -> Evidence:
    """Return what the log shows about an incident, for choosing its knowledge's variant."""
    exceptions = [kind for kind, _ in traceback.chain]
    if fields.get("exception"):
        exceptions.append(str(fields["exception"]))
    statuses = {endpoint.status for endpoint in endpoints}
    if impact is not None:
        statuses.update(s for endpoint in impact.endpoints for s in endpoint.statuses)
    return Evidence(
        fields={name: str(value) for name, value in fields.items() if value != ""},
        exceptions=tuple(exceptions),
        messages=(*(message for _, message in traceback.chain if message), *messages),
        frames=traceback.frames,
        statuses=tuple(sorted(statuses)),
        siblings=tuple(
            Sibling(other.signature, {k: str(v) for k, v in other.fields.items()})
            for other in siblings
        ),
        recovered_alone=recovered_alone,
    )


def filled_knowledge(
    signature: Signature,
    fields: Mapping[str, object],
    evidence: Mapping[str, str] | None = None,
    shown: Evidence | None = None,
) -> Knowledge:
    """Return the knowledge for these fields (and what the log `shown`), filled from fields and
    evidence."""
    captured = {name: inert(value) for name, value in fields.items() if value != ""}
    chosen = signature.knowledge_for(captured, shown)
    found = {name: inert(v, route=name in _ROUTES) for name, v in (evidence or {}).items()}
    values = found | captured
    return Knowledge(
        root_cause=fill_text(chosen.root_cause, values),
        fix=fill_text(chosen.fix, values),
        verification=tuple(fill_text(step, values) for step in chosen.verification),
        prevention=tuple(fill_text(step, values) for step in chosen.prevention),
        worked=tuple(fill_text(step, values) for step in chosen.worked),
    )
