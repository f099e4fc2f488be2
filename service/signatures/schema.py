"""The signature file schema: one parsed TOML document read strictly into a `Rule`.

A `Rule` is the shared `Signature` plus what only matching needs (its regexes, status and the
role each example plays). The file format is documented in `patterns/README.md`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

import regex

from service.signatures.derive import DERIVED_FIELDS
from service.signatures.frames import FrameRule, read_frames
from service.signatures.model import (
    SEVERITIES,
    Example,
    Knowledge,
    Role,
    RuleKind,
    Severity,
    Signature,
    Variant,
)
from service.signatures.prefilter import FORBIDDEN_IN_KEYWORDS
from service.signatures.regexes import compile_pattern, group_names, probe_pattern
from service.signatures.tables import TableReader
from service.signatures.variants import has_condition, read_condition

Status = Literal["stable", "experimental"]
STATUSES: tuple[Status, ...] = ("stable", "experimental")
KINDS: tuple[RuleKind, ...] = ("single", "pair", "threshold", "absence")
ROLES: tuple[Role, ...] = ("open", "close", "start")
# Which kinds take which optional [detect] keys; the lifecycle gives each kind its meaning.
CLOSING_KINDS = ("pair", "absence")
WINDOW_KINDS = ("threshold", "absence")
MIN_EXAMPLES = 2
MIN_NEAR_MISSES = 1
DEFAULT_QUIET_MINUTES = 60

# These patterns run over trusted signature files, never over log text, so stdlib `re` is fine.
ID_PATTERN = re.compile(r"[a-z0-9]+(\.[a-z0-9-]+)+")
FIELD_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
# `{field}` is filled from a hit's fields; `{{field}}` is a literal `{field}` (for code samples).
PLACEHOLDER = re.compile(r"\{\{([a-z][a-z0-9_]*)\}\}|\{([a-z][a-z0-9_]*)\}")
# Filled by the report from the incident's evidence (its traceback, its failed requests) when no
# regex captures them; where the log gives none, the report says so in words.
EVIDENCE_PLACEHOLDERS = frozenset(
    {"endpoint", "method", "path", "frame", "file", "function", "exception", "instance"}
)
# Code samples hold route templates such as `/items/{item_id}`: unknown names there are not typos.
FENCED_CODE = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.DOTALL | re.MULTILINE)


class SignatureError(Exception):
    """One or more signature files are invalid; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Detection:
    """The regex sources of a signature, as written in its `[detect]` table."""

    keywords: tuple[str, ...]
    any: tuple[str, ...]
    none: tuple[str, ...] = ()
    close_any: tuple[str, ...] = ()
    derive: tuple[str, ...] = ()
    start_any: tuple[str, ...] = ()
    threshold: int = 0
    window_seconds: int = 0
    frames: tuple[FrameRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """An embedded example with its test label and the role it must be matched as."""

    label: str
    key: str
    example: Example
    role: Role = "open"
    # A known miss: text the signature should match but does not yet, kept visible as a test.
    known_miss: str = ""


@dataclass(frozen=True, slots=True)
class Rule(Signature):
    """A loaded signature file: the shared `Signature` plus its detection, status and examples.

    It is a `Signature`, so everything that shows or reports signatures takes it as one.
    """

    detection: Detection = Detection(keywords=(), any=())
    status: Status = "stable"
    cases: tuple[Case, ...] = ()


def fill_placeholders(text: str, fields: Mapping[str, str]) -> str:
    """Replace `{field}` with its captured value and `{{field}}` with a literal `{field}`."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{" + match.group(1) + "}"
        return fields.get(match.group(2), match.group(0))

    return PLACEHOLDER.sub(substitute, text)


def parse_rule(
    data: Mapping[str, object], *, file: str, stem: str, area: str | None
) -> tuple[Rule | None, list[str]]:
    """Validate one parsed signature file; return the rule (None if invalid) and every problem."""
    errors: list[str] = []
    top = TableReader(data, file=file, where="", errors=errors)
    ident = _read_id(top, stem, area)
    title = top.text("title")
    if "\n" in title:
        top.error("title", "must be a single line")
    severity = cast(Severity, top.choice("severity", SEVERITIES))
    status = cast(Status, top.choice("status", STATUSES))
    description = top.text("description")
    # For signature authors (ranking, what is deliberately not matched); no report shows it.
    top.text("notes", required=False)
    references = top.texts("references", required=False)
    for index, url in enumerate(references):
        if not url.startswith(("https://", "http://")):
            top.error(f"references[{index}]", "must be an http(s) URL")
    priority = top.integer("priority")
    kind, detection, group_by, captures = _read_detect(top)
    resolve = top.table("resolve", required=False)
    quiet = DEFAULT_QUIET_MINUTES
    if resolve is not None:
        quiet = resolve.integer("quiet_minutes")
        if quiet < 1:
            resolve.error("quiet_minutes", "must be at least 1")
        resolve.finish()
    knowledge, variants = _read_knowledge(top, captures)
    cases = _read_cases(top, kind, captures)
    top.finish()
    if errors:
        return None, errors
    rule = Rule(
        id=ident,
        title=title,
        severity=severity,
        description=description,
        kind=kind,
        priority=priority,
        group_by=group_by,
        knowledge=knowledge,
        references=references,
        variants=variants,
        examples=tuple(case.example for case in cases),
        quiet_minutes=quiet,
        threshold=detection.threshold,
        window_seconds=detection.window_seconds,
        path=file,
        detection=detection,
        status=status,
        cases=cases,
    )
    return rule, errors


def _read_id(top: TableReader, stem: str, area: str | None) -> str:
    ident = top.text("id")
    if not ident:
        return ident
    if not ID_PATTERN.fullmatch(ident):
        top.error("id", f"{ident!r} must look like area.name (lowercase, digits, dots, dashes)")
    elif ident != stem:
        top.error("id", f"{ident!r} must equal the file name stem {stem!r}")
    elif area is not None and ident.split(".", 1)[0] != area:
        top.error("id", f"{ident!r} must start with its directory name {area + '.'!r}")
    return ident


def _read_detect(top: TableReader) -> tuple[RuleKind, Detection, tuple[str, ...], frozenset[str]]:
    """Read `[detect]`; return the kind, the detection, group_by and the captured field names."""
    detect = top.table("detect")
    if detect is None:
        return "single", Detection(keywords=(), any=()), (), frozenset()
    kind = cast(RuleKind, detect.choice("kind", KINDS))
    keywords = detect.texts("keywords", non_empty=True)
    for index, keyword in enumerate(keywords):
        if any(char in keyword for char in FORBIDDEN_IN_KEYWORDS):
            detect.error(f"keywords[{index}]", "must not contain a line break or a NUL")
    opening = detect.texts("any", non_empty=True)
    vetoes = detect.texts("none", required=False)
    closing = detect.texts(
        "close_any", required=kind in CLOSING_KINDS, non_empty=kind in CLOSING_KINDS
    )
    if kind not in CLOSING_KINDS and closing:
        detect.error("close_any", 'only kind = "pair" or "absence" signatures have close_any')
    starting = detect.texts("start_any", required=kind == "absence", non_empty=kind == "absence")
    if kind != "absence" and starting:
        detect.error("start_any", 'only a kind = "absence" signature has start_any')
    threshold, window = _read_window(detect, kind)
    captured: dict[str, set[str]] = {}
    for key, sources in (("any", opening), ("close_any", closing), ("start_any", starting)):
        for index, source in enumerate(sources):
            names = _check_regex(detect, f"{key}[{index}]", source)
            captured[f"{key}[{index}]"] = names
    for index, source in enumerate(vetoes):
        _check_regex(detect, f"none[{index}]", source)
    derive = _read_derive(detect, captured)
    frames = read_frames(detect, kind, captured)
    group_by = detect.texts("group_by", required=False)
    for index, name in enumerate(group_by):
        if name in derive:
            continue
        for key, names in captured.items():
            if name not in names:
                detect.error(f"group_by[{index}]", f"{name!r} is not captured by detect.{key}")
    detect.finish()
    captures = frozenset(name for names in captured.values() for name in names) | set(derive)
    detection = Detection(
        keywords=keywords,
        any=opening,
        none=vetoes,
        close_any=closing,
        derive=derive,
        start_any=starting,
        threshold=threshold,
        window_seconds=window,
        frames=frames,
    )
    return kind, detection, group_by, captures


def _read_window(detect: TableReader, kind: RuleKind) -> tuple[int, int]:
    """Read `threshold` (threshold rules) and `window_seconds` (threshold and absence rules)."""
    threshold = detect.integer("threshold", required=kind == "threshold")
    if kind == "threshold" and detect.has("threshold") and threshold < 2:
        detect.error("threshold", 'must be at least 2 (one hit is a kind = "single" rule)')
    if kind != "threshold" and detect.has("threshold"):
        detect.error("threshold", 'only a kind = "threshold" signature has a threshold')
    window = detect.integer("window_seconds", required=kind in WINDOW_KINDS)
    if kind in WINDOW_KINDS and detect.has("window_seconds") and not 1 <= window <= 86_400:
        detect.error("window_seconds", "must be between 1 and 86400")
    if kind not in WINDOW_KINDS and detect.has("window_seconds"):
        detect.error("window_seconds", "only threshold and absence signatures have a window")
    return threshold, window


def _read_derive(detect: TableReader, captured: Mapping[str, set[str]]) -> tuple[str, ...]:
    """Read `derive`: known derived field names, each once, none also a regex group name."""
    derive = detect.texts("derive", required=False)
    seen: set[str] = set()
    for index, name in enumerate(derive):
        if name not in DERIVED_FIELDS:
            detect.error(f"derive[{index}]", f"must be one of {', '.join(DERIVED_FIELDS)}")
        elif name in seen:
            detect.error(f"derive[{index}]", f"{name!r} is listed twice")
        for key, names in captured.items():
            if name in names:
                detect.error(f"derive[{index}]", f"{name!r} is also a named group of detect.{key}")
        seen.add(name)
    return tuple(dict.fromkeys(name for name in derive if name in DERIVED_FIELDS))


def _check_regex(table: TableReader, key: str, source: str) -> set[str]:
    """Compile and probe one regex; return its named groups (empty when it is invalid)."""
    try:
        compiled = compile_pattern(source)
    except regex.error as exc:
        table.error(key, f"regex does not compile: {exc}")
        return set()
    names = group_names(compiled)
    for name in names:
        if not FIELD_PATTERN.fullmatch(name):
            table.error(key, f"named group {name!r} must be lowercase snake_case")
    if compiled.search("", timeout=1.0) is not None:
        table.error(key, "regex matches the empty string, so it would match every event")
        return set(names)
    slow = probe_pattern(compiled, source)
    if slow is not None:
        table.error(key, slow)
    return set(names)


def _read_knowledge(
    top: TableReader, captures: frozenset[str]
) -> tuple[Knowledge, tuple[Variant, ...]]:
    table = top.table("knowledge")
    empty = Knowledge(root_cause="", fix="")
    if table is None:
        return empty, ()
    knowledge = _read_knowledge_text(table, captures, inherit=None)
    variants: list[Variant] = []
    for variant_table in table.tables("variants", required=False):
        when = variant_table.strings("when")
        if not when and not has_condition(variant_table):
            variant_table.error("when", "required: a table of field = value, or a when_* key")
        for name in when:
            if name not in captures:
                variant_table.error(f"when.{name}", f"{name!r} is not captured by any regex")
        condition = read_condition(variant_table, captures)
        variant_knowledge = _read_knowledge_text(variant_table, captures, inherit=knowledge)
        variant_table.finish()
        variants.append(Variant(when=when, knowledge=variant_knowledge, condition=condition))
    table.finish()
    return knowledge, tuple(variants)


def _read_knowledge_text(
    table: TableReader, captures: frozenset[str], inherit: Knowledge | None
) -> Knowledge:
    """Read root_cause/fix/verification/prevention; a variant inherits lists it leaves out."""
    root_cause = table.text("root_cause")
    fix = table.text("fix")
    verification = table.texts("verification", required=inherit is None, non_empty=True)
    prevention = table.texts("prevention", required=False)
    # What went right is only known from evidence, so only a variant (chosen by it) states it.
    worked = table.texts("worked", required=False)
    if inherit is None and worked:
        table.error("worked", "only a variant says what worked (its when_* keys show it)")
    if inherit is not None:
        verification = verification or inherit.verification
        prevention = prevention if table.has("prevention") else inherit.prevention
    texts = {"root_cause": root_cause, "fix": fix}
    for key, items in (
        ("verification", verification),
        ("prevention", prevention),
        ("worked", worked),
    ):
        texts.update({f"{key}[{i}]": item for i, item in enumerate(items)})
    for key, text in texts.items():
        for match in PLACEHOLDER.finditer(FENCED_CODE.sub("", text)):
            name = match.group(2)
            if name is not None and name not in captures and name not in EVIDENCE_PLACEHOLDERS:
                table.error(key, f"placeholder {{{name}}} is not captured by any regex")
    return Knowledge(root_cause, fix, verification, prevention, worked)


def _read_cases(top: TableReader, kind: RuleKind, captures: frozenset[str]) -> tuple[Case, ...]:
    cases: list[Case] = []
    for index, table in enumerate(top.tables("examples")):
        text = table.text("text").strip("\n")
        fields = table.strings("fields")
        for name in fields:
            if name not in captures:
                table.error(f"fields.{name}", f"{name!r} is not captured by any regex")
        role = cast(Role, table.choice("role", ROLES, default="open"))
        if role == "close" and kind not in CLOSING_KINDS:
            table.error("role", 'only kind = "pair" or "absence" signatures have close examples')
        if role == "start" and kind != "absence":
            table.error("role", 'only a kind = "absence" signature has start examples')
        table.finish()
        example = Example(text=text, fields=fields)
        cases.append(Case(f"example-{index + 1}", f"examples[{index}]", example, role))
    for index, table in enumerate(top.tables("known_misses", required=False)):
        text = table.text("text").strip("\n")
        reason = table.text("reason")
        table.finish()
        known = Example(text=text)
        cases.append(
            Case(f"known-miss-{index + 1}", f"known_misses[{index}]", known, known_miss=reason)
        )
    misses = top.tables("near_misses")
    for index, table in enumerate(misses):
        example = Example(text=table.text("text").strip("\n"), matches=False)
        table.finish()
        cases.append(Case(f"near-miss-{index + 1}", f"near_misses[{index}]", example))
    matching = [case for case in cases if case.example.matches and not case.known_miss]
    if top.has("examples") and len(matching) < MIN_EXAMPLES:
        top.error("examples", f"needs at least {MIN_EXAMPLES} matching examples")
    if top.has("near_misses") and len(misses) < MIN_NEAR_MISSES:
        top.error("near_misses", f"needs at least {MIN_NEAR_MISSES} near miss")
    if kind == "pair" and {case.role for case in matching} != {"open", "close"}:
        top.error("examples", 'a kind = "pair" signature needs open and close examples')
    if kind == "absence" and not {"start", "close"} <= {case.role for case in matching}:
        top.error("examples", 'a kind = "absence" signature needs start and close examples')
    return tuple(cases)
