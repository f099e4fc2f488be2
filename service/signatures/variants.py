"""What a knowledge variant asks of an incident's evidence, and that evidence.

A variant is chosen at report time, never per line: `when` compares captured fields, and the
`when_*` keys look at what the report found in the log (the exception chain, the messages, the
traceback's frames and the failing application line, the statuses of the failed requests, the
other incidents of the outage, whether it recovered with no deploy in between). Every key given
must hold; `read_condition` reads them from a signature file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import regex

from service.ingest.records import Frame
from service.signatures.regexes import compile_pattern, search_within
from service.signatures.tables import TableReader

# A frame spec: `function`, `path/suffix.py`, or `path/suffix.py:function`.
FRAME_SPEC = re.compile(
    r"(?P<file>[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.pyx?)(?::(?P<function>[A-Za-z_]\w*|<module>))?"
    r"|(?P<bare>[A-Za-z_]\w*|<module>)"
)
SIGNATURE_GLOB = re.compile(r"[a-z0-9]+(?:\.[a-z0-9-]+)*(?:\.\*)?|\*")
EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]*")
CONDITION_KEYS = (
    "when_exception",
    "when_message",
    "when_frame",
    "when_code",
    "when_status",
    "when_sibling",
    "when_recovered_alone",
)
# Report-time searches of trusted regexes over hostile log text still get a budget.
SEARCH_BUDGET_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Sibling:
    """Another incident of the same outage, as a variant sees it."""

    signature: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the log shows about one incident, beyond its captured fields."""

    fields: Mapping[str, str] = field(default_factory=dict)
    # The exception chain's types, outermost first, and the messages (chain and event text).
    exceptions: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    frames: tuple[Frame, ...] = ()
    # The statuses the failed requests next to the hits (or in its window) were answered with.
    statuses: tuple[int, ...] = ()
    siblings: tuple[Sibling, ...] = ()
    # Resolved as recovered (a recovery line, the failing endpoint answering again) with no deploy
    # going live between its first hit and the recovery: whatever failed came back by itself.
    recovered_alone: bool = False

    @property
    def failing_line(self) -> str:
        """Return the source line under the deepest application frame, or ""."""
        application = [frame for frame in self.frames if frame.is_application]
        return application[-1].code if application else ""


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """A frame a variant looks for anywhere in the traceback: by function, file suffix, or both."""

    file: str = ""
    function: str = ""

    def matches(self, frame: Frame) -> bool:
        """Return True when `frame` is in this file (a `/` path suffix) and this function."""
        if self.function and frame.function != self.function:
            return False
        path = frame.file.replace("\\", "/")
        return not self.file or path == self.file or path.endswith("/" + self.file)


@dataclass(frozen=True, slots=True)
class SiblingRule:
    """Another incident of the outage that must exist: its signature (`area.*` for an area),
    fields it carries with these values, and fields it shares with this incident (`same`)."""

    signature: str
    fields: Mapping[str, str] = field(default_factory=dict)
    same: tuple[str, ...] = ()

    def holds(self, evidence: Evidence) -> bool:
        """Return True when one sibling of the evidence fits this rule."""
        return any(self._fits(sibling, evidence.fields) for sibling in evidence.siblings)

    def _fits(self, sibling: Sibling, own: Mapping[str, str]) -> bool:
        wanted = self.signature
        if wanted.endswith(".*"):
            if not sibling.signature.startswith(wanted[:-1]):
                return False
        elif wanted not in ("*", sibling.signature):
            return False
        if any(sibling.fields.get(name) != value for name, value in self.fields.items()):
            return False
        return all(own.get(name) and sibling.fields.get(name) == own[name] for name in self.same)


@dataclass(frozen=True, slots=True)
class Condition:
    """The `when_*` keys of a variant; an empty condition always holds."""

    exceptions: tuple[str, ...] = ()
    message: regex.Pattern[str] | None = None
    frames: tuple[FrameSpec, ...] = ()
    code: regex.Pattern[str] | None = None
    statuses: tuple[int, ...] = ()
    sibling: SiblingRule | None = None
    recovered_alone: bool = False

    def holds(self, evidence: Evidence) -> bool:
        """Return True when the evidence shows everything this condition asks for."""
        if self.recovered_alone and not evidence.recovered_alone:
            return False
        if self.exceptions and not any(
            _same_exception(seen, wanted)
            for seen in evidence.exceptions
            for wanted in self.exceptions
        ):
            return False
        if self.message is not None and not any(
            _found(self.message, text) for text in evidence.messages
        ):
            return False
        if self.frames and not any(
            spec.matches(frame) for frame in evidence.frames for spec in self.frames
        ):
            return False
        if self.code is not None and not _found(self.code, evidence.failing_line):
            return False
        if self.statuses and not (
            evidence.statuses and set(evidence.statuses) <= set(self.statuses)
        ):
            return False
        return self.sibling is None or self.sibling.holds(evidence)


def _same_exception(seen: str, wanted: str) -> bool:
    """Match a dotted name in full or by its last part (`MissingGreenlet`)."""
    return seen == wanted or seen.rsplit(".", 1)[-1] == wanted


def _found(pattern: regex.Pattern[str], text: str) -> bool:
    if not text:
        return False
    try:
        return search_within(pattern, text, SEARCH_BUDGET_SECONDS) is not None
    except TimeoutError:
        return False


def read_condition(table: TableReader, captures: frozenset[str]) -> Condition:
    """Read a variant's `when_*` keys; `captures` are the fields `same` may name."""
    exceptions = table.texts("when_exception", required=False)
    for index, name in enumerate(exceptions):
        if not EXCEPTION_NAME.fullmatch(name):
            table.error(f"when_exception[{index}]", "must be an exception name")
    specs: list[FrameSpec] = []
    for index, spec in enumerate(table.texts("when_frame", required=False)):
        match = FRAME_SPEC.fullmatch(spec)
        if match is None:
            table.error(
                f"when_frame[{index}]", "must be `function`, `path.py` or `path.py:function`"
            )
            continue
        function = match["function"] or match["bare"] or ""
        specs.append(FrameSpec(file=match["file"] or "", function=function))
    alone = table.flag("when_recovered_alone")
    if alone is False:
        table.error("when_recovered_alone", "only `true` is a condition; leave the key out instead")
    statuses = table.integers("when_status")
    for index, status in enumerate(statuses):
        if not 100 <= status <= 599:
            table.error(f"when_status[{index}]", "must be an HTTP status (100-599)")
    return Condition(
        exceptions=exceptions,
        message=_read_regex(table, "when_message"),
        frames=tuple(specs),
        code=_read_regex(table, "when_code"),
        statuses=statuses,
        sibling=_read_sibling(table, captures),
        recovered_alone=alone is True,
    )


def _read_regex(table: TableReader, key: str) -> regex.Pattern[str] | None:
    source = table.text(key, required=False)
    if not source:
        return None
    try:
        compiled = compile_pattern(source)
    except regex.error as exc:
        table.error(key, f"regex does not compile: {exc}")
        return None
    if compiled.search("", timeout=1.0) is not None:
        table.error(key, "regex matches the empty string, so it would hold for every incident")
    return compiled


def _read_sibling(table: TableReader, captures: frozenset[str]) -> SiblingRule | None:
    sibling = table.table("when_sibling", required=False)
    if sibling is None:
        return None
    signature = sibling.text("signature")
    if signature and not SIGNATURE_GLOB.fullmatch(signature):
        sibling.error("signature", "must be a signature id, `area.*` or `*`")
    fields = sibling.strings("fields")
    same = sibling.texts("same", required=False)
    for index, name in enumerate(same):
        if name not in captures:
            sibling.error(f"same[{index}]", f"{name!r} is not captured by any regex")
    sibling.finish()
    return SiblingRule(signature=signature, fields=fields, same=same)


def has_condition(table: TableReader) -> bool:
    """Return True when a variant table gives any `when_*` key."""
    return any(table.has(key) for key in CONDITION_KEYS)
