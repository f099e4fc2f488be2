"""Cause rules: which incidents are one story. Read from `outages.toml` at the top of a patterns
directory (the signature loader leaves that file alone).

A rule joins a *cause* incident and an *effect* incident of the same source when their spans
(first to last hit) come within `within_seconds` of each other (or, `via = "deploy"`, when the
effect came after a deploy made while the cause was failing or within `within_seconds` after) and
the captured fields named in `same` agree. A side lists signature ids; `prefix.*` stands for
every id of an area, `*` for any. Joined incidents share one outage, so a chain of rules (a
crash, the deploy it failed, the 5xx it caused) grows one outage.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

RULES_FILE = "outages.toml"
_KEYS = {"id", "story", "cause", "effect", "within_seconds", "same", "not_cause", "via"}
# How a rule ties its two sides: by time (their spans come close), or by a deploy (the effect's
# first hit came after a deploy made while the cause was failing, or soon after).
VIAS = ("time", "deploy")


@dataclass(frozen=True)
class Span:
    """What a rule needs of an incident: its signature, fields and span of log time."""

    signature: str
    fields: Mapping[str, Any]
    first_seen: datetime | None
    last_seen: datetime | None
    # The deploy the incident's first hit came after (`Incident.deploy_id`: ids follow the order
    # of the log), and when it happened, where the log gives a time.
    deploy_id: int | None = None
    deploy_at: datetime | None = None


@dataclass(frozen=True)
class CauseRule:
    """One kind of story: a cause and the failure it brings."""

    id: str
    story: str
    cause: tuple[str, ...]
    effect: tuple[str, ...]
    within: timedelta
    same: tuple[str, ...] = ()
    not_cause: tuple[str, ...] = ()
    via: str = "time"

    def is_cause(self, signature: str) -> bool:
        """Return True if an incident of this signature can be the rule's cause."""
        return _listed(signature, self.cause) and not _listed(signature, self.not_cause)

    def is_effect(self, signature: str) -> bool:
        """Return True if an incident of this signature can be the rule's effect."""
        return _listed(signature, self.effect)

    def fits(self, cause: str, effect: str) -> bool:
        """Return True if incidents of these signatures may be this rule's cause and effect."""
        return self.is_cause(cause) and self.is_effect(effect)

    def joins(self, cause: Span, effect: Span) -> bool:
        """Return True if `cause` and `effect` tell this rule's story."""
        return self.fits(cause.signature, effect.signature) and self._spans_join(cause, effect)

    def _spans_join(self, cause: Span, effect: Span) -> bool:
        """Return True if the spans and fields of a fitting cause and effect join."""
        if cause is effect:
            return False
        for name in self.same:
            if name not in cause.fields or cause.fields.get(name) != effect.fields.get(name):
                return False
        if self.via == "deploy":
            return _deployed_while_failing(cause, effect, self.within)
        return _near(cause, effect, self.within)


@lru_cache(maxsize=4096)
def _listed(signature: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(signature, pattern) for pattern in patterns)


def _near(a: Span, b: Span, within: timedelta) -> bool:
    if a.first_seen is None or b.first_seen is None:
        return False
    a_end = a.last_seen or a.first_seen
    b_end = b.last_seen or b.first_seen
    # The gap between the two spans; overlapping spans are 0 apart.
    gap = max(a.first_seen - b_end, b.first_seen - a_end, timedelta(0))
    return gap <= within


def _deployed_while_failing(cause: Span, effect: Span, within: timedelta) -> bool:
    """Return True if the effect came after a deploy made while the cause was failing or soon
    after (a later deploy than the cause's own, at most `within` after its last hit, the effect
    too): the deploy meant to fix one failure brought the next."""
    if cause.first_seen is None or effect.first_seen is None or effect.deploy_id is None:
        return False
    if cause.deploy_id is not None and effect.deploy_id <= cause.deploy_id:
        return False
    end = (cause.last_seen or cause.first_seen) + within
    if effect.deploy_at is not None and not cause.first_seen <= effect.deploy_at <= end:
        return False
    return cause.first_seen <= effect.first_seen <= end


def story_between(rules: Sequence[CauseRule], a: Span, b: Span) -> tuple[CauseRule, Span] | None:
    """Return the first rule that joins `a` and `b` and its cause side: either way round, and
    when both ways fit (two DB_DOWN loops, a worker timeout and the SIGKILL of its pid) the one
    that began first is the cause."""
    for rule, forward_fits, backward_fits in _fitting(rules, a.signature, b.signature):
        forward = forward_fits and rule._spans_join(a, b)
        backward = backward_fits and rule._spans_join(b, a)
        if forward and backward:
            earlier_b = (
                b.first_seen is not None
                and a.first_seen is not None
                and b.first_seen < a.first_seen
            )
            return rule, (b if earlier_b else a)
        if forward:
            return rule, a
        if backward:
            return rule, b
    return None


# The rules whose sides two signatures fit, per pair of signatures, per rule set (the last few:
# a reload brings a new one): a new incident is weighed against up to 200 others, and most
# rules fit few pairs of signatures.
_Fitting = dict[tuple[str, str], tuple[tuple[CauseRule, bool, bool], ...]]
_FITTING: dict[int, tuple[Sequence[CauseRule], _Fitting]] = {}
_RULE_SETS_KEPT = 4


def _fitting(
    rules: Sequence[CauseRule], a: str, b: str
) -> tuple[tuple[CauseRule, bool, bool], ...]:
    """Return (rule, a may cause b, b may cause a) for each rule either way fits, in order."""
    entry = _FITTING.get(id(rules))
    if entry is None or entry[0] is not rules:
        entry = _FITTING[id(rules)] = (rules, {})
        while len(_FITTING) > _RULE_SETS_KEPT:
            _FITTING.pop(next(iter(_FITTING)), None)
    pairs = entry[1]
    found = pairs.get((a, b))
    if found is None:
        fits = ((rule, rule.fits(a, b), rule.fits(b, a)) for rule in rules)
        found = pairs[(a, b)] = tuple(item for item in fits if item[1] or item[2])
    return found


def load_rules(dirs: Sequence[Path]) -> tuple[tuple[CauseRule, ...], list[str]]:
    """Read the cause rules of every patterns directory; return them and one line per problem."""
    rules: dict[str, CauseRule] = {}
    problems: list[str] = []
    for directory in dirs:
        path = Path(directory) / RULES_FILE
        if not path.is_file():
            continue
        display = f"{Path(directory).name}/{RULES_FILE}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            problems.append(f"{display}: cannot read: {error}")
            continue
        for index, raw in enumerate(data.get("rule", [])):
            rule, problem = _parse(raw)
            if rule is None:
                problems.append(f"{display}: rule {index + 1}: {problem}")
            else:
                rules[rule.id] = rule  # a later directory's rule replaces one of the same id
        unknown = sorted(set(data) - {"rule"})
        if unknown:
            problems.append(f"{display}: unknown keys: {', '.join(unknown)}")
    return tuple(rules.values()), problems


def check_rules(rules: Sequence[CauseRule], signature_ids: Sequence[str]) -> list[str]:
    """Return one line per rule side that names no loaded signature."""
    problems = []
    for rule in rules:
        for side in ("cause", "effect", "not_cause"):
            for pattern in getattr(rule, side):
                if not any(fnmatch.fnmatchcase(ident, pattern) for ident in signature_ids):
                    problems.append(
                        f"{RULES_FILE}: {rule.id}: {side} {pattern!r} names no signature"
                    )
    return problems


def _parse(raw: object) -> tuple[CauseRule | None, str]:
    if not isinstance(raw, dict):
        return None, "not a table"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        return None, f"unknown keys: {', '.join(unknown)}"
    try:
        ident = raw["id"]
        lists = {
            name: _strings(raw.get(name, []), name)
            for name in ("cause", "effect", "same", "not_cause")
        }
        within = raw["within_seconds"]
    except KeyError as missing:
        return None, f"missing {missing.args[0]!r}"
    except ValueError as error:
        return None, str(error)
    if not isinstance(ident, str) or not ident:
        return None, "id: a non-empty string"
    if not isinstance(within, int) or isinstance(within, bool) or within < 0:
        return None, "within_seconds: a whole number of seconds, 0 or more"
    if not lists["cause"] or not lists["effect"]:
        return None, "cause and effect: each at least one signature id"
    story = raw.get("story", "")
    if not isinstance(story, str):
        return None, "story: a string"
    via = raw.get("via", "time")
    if via not in VIAS:
        return None, f"via: one of {', '.join(VIAS)}"
    return (
        CauseRule(
            id=ident,
            story=story.strip(),
            cause=lists["cause"],
            effect=lists["effect"],
            within=timedelta(seconds=within),
            same=lists["same"],
            not_cause=lists["not_cause"],
            via=via,
        ),
        "",
    )


def _strings(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f"{name}: a list of non-empty strings")
    return tuple(value)
