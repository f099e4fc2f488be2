"""The parsed, immutable form of one signature file, and the hit it produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from service.ingest.records import Event
from service.signatures.variants import Condition, Evidence

Severity = Literal["critical", "high", "medium", "low"]
RuleKind = Literal["single", "pair", "threshold", "absence"]
# open: a hit that counts (opens, joins, or for a threshold rule adds to the count); close: the
# recovery line of a pair rule, or the awaited line of an absence rule; start: the line an absence
# rule waits after.
Role = Literal["open", "close", "start"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
# exact: the log printed the failure (its exception line, its message); inferred: it did not, and
# the failure was read from weaker evidence (the frames of a traceback cut before its last line).
Confidence = Literal["exact", "inferred"]
CONFIDENCES: tuple[Confidence, ...] = ("exact", "inferred")
# What a page or report says about evidence weaker than the exception line itself.
CONFIDENCE_NOTES: Mapping[str, str] = {
    "inferred": "inferred from the stack frames; the exception line is missing from the log",
}


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What the report says about a signature: why it happens, how to fix and verify it.

    Text may hold `{field}` placeholders, filled from the fields a hit captured. `worked` (a
    variant's only) says what went right in a log that shows the variant's evidence.
    """

    root_cause: str
    fix: str
    verification: tuple[str, ...] = ()
    prevention: tuple[str, ...] = ()
    worked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Variant:
    """Knowledge that replaces the default when captured fields equal `when` and the incident's
    evidence shows what `condition` asks for (its exception, frames, statuses, siblings)."""

    when: Mapping[str, str]
    knowledge: Knowledge
    condition: Condition = field(default_factory=Condition)

    def holds(self, fields: Mapping[str, str], evidence: Evidence) -> bool:
        """Return True when this variant fits these fields and this evidence."""
        if any(fields.get(key) != value for key, value in self.when.items()):
            return False
        return self.condition.holds(evidence)


@dataclass(frozen=True, slots=True)
class Example:
    """An embedded example: text that must match (with fields) or must not (near miss)."""

    text: str
    fields: Mapping[str, str] = field(default_factory=dict)
    matches: bool = True


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature file, validated."""

    id: str
    title: str
    severity: Severity
    description: str
    kind: RuleKind
    priority: int
    group_by: tuple[str, ...]
    knowledge: Knowledge
    references: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    examples: tuple[Example, ...] = ()
    quiet_minutes: int = 60
    threshold: int = 0
    window_seconds: int = 0
    path: str = ""

    def knowledge_for(
        self, fields: Mapping[str, str], evidence: Evidence | None = None
    ) -> Knowledge:
        """Return the knowledge for these fields and evidence: the first fitting variant's, else
        the default. Without evidence, only variants that ask nothing beyond fields can fit."""
        seen = evidence if evidence is not None else Evidence(fields=fields)
        for variant in self.variants:
            if variant.holds(fields, seen):
                return variant.knowledge
        return self.knowledge


@dataclass(frozen=True, slots=True)
class Hit:
    """An event matched by a signature; `role` is `close` for a pair rule's recovery line."""

    signature: Signature
    event: Event
    fields: Mapping[str, str]
    role: Role = "open"
    confidence: Confidence = "exact"

    @property
    def group_key(self) -> tuple[str, ...]:
        """Return the values of the signature's grouping fields, in order."""
        return tuple(self.fields.get(name, "") for name in self.signature.group_by)
