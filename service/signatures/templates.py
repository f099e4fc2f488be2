"""Error templates: what an error-level line that no signature explains says, with its variable
parts masked, clustered Drain-style into one template per kind of message (`log.error-template`).

Two steps, as in logpai/Drain3: ordered masking rules first (`error_template`, stateless), then a
bounded per-source tree (`TemplateMiner`) that merges messages of one shape differing in a few
words into a template with `<*>` there. Pure: no database, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import regex

from service.ingest.records import Event
from service.ingest.structured import read_json_record
from service.ingest.tracebacks import TRACEBACK
from service.signatures.masks import MASKS, Mask, mask_message
from service.signatures.regexes import compile_pattern

TEMPLATE_SIGNATURE = "log.error-template"
# The canonical level names `service.ingest.headers.LEVELS` maps ERR/FATAL/EMERG/... onto.
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
WILDCARD = "<*>"
MAX_TEMPLATE_CHARACTERS = 300
MAX_CLUSTERS_PER_SOURCE = 200
MAX_SOURCES = 256
MAX_CLUSTERS_PER_LEAF = 32
# Share of token positions that must be equal for a message to join a template (Drain's sim_th;
# Drain3 defaults to 0.4). At 0.6 two-word messages never merge ("connection refused" and
# "connection reset" stay two failures) and a one-word difference in three or more does.
SIMILARITY = 0.6
_TIMEOUT_SECONDS = 0.05
_MAX_LINE_CHARACTERS = 1000

# The bundled rules, with an e-mail rule first and paths next: a log line names files
# (`/exports/2025-11-02.csv`, `/objects/<id>`) more often than an exception message does, and a
# path is one value, not a timestamp or an id inside one.
EMAIL = Mask(
    "email",
    regex.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"),
    "<email>",
)
TEMPLATE_MASKS: tuple[Mask, ...] = (
    EMAIL,
    *(mask for mask in MASKS if mask.name == "path"),
    *(mask for mask in MASKS if mask.name != "path"),
)
_LOGFMT_MESSAGE = regex.compile(r'(?:^|\s)(?:msg|message)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_LOGFMT_ERROR = regex.compile(r'(?:^|\s)(?:err|error)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_LEADING_LEVEL = regex.compile(
    r"\[?(?:ERROR|ERR|CRITICAL|CRIT|FATAL|EMERG|ALERT|PANIC)\]?(?::\s*|\s+)"
)


def error_text(line: str) -> str:
    """Return the message an error line carries: a logfmt or JSON line's own message field."""
    line = line[:_MAX_LINE_CHARACTERS].strip()
    if line.startswith("{"):
        record = read_json_record(line)
        if record is not None and record.text.strip():
            return record.text.strip().split("\n", 1)[0]
    try:
        found = _LOGFMT_MESSAGE.search(line, timeout=_TIMEOUT_SECONDS)
        if found is not None:
            message = _unquote(found[1]) if found[1] is not None else found[2]
            error = _LOGFMT_ERROR.search(line, timeout=_TIMEOUT_SECONDS)
            if error is not None:
                cause = _unquote(error[1]) if error[1] is not None else error[2]
                message = f"{message}: {cause}" if message else cause
            return message
        level = _LEADING_LEVEL.match(line, timeout=_TIMEOUT_SECONDS)
    except TimeoutError:
        return line
    return line[level.end() :] if level is not None else line


def error_template(line: str) -> str:
    """Return the masked template of an error line (ids, numbers, values, paths, e-mails)."""
    masked = mask_message(error_text(line), TEMPLATE_MASKS)
    return " ".join(masked[:MAX_TEMPLATE_CHARACTERS].split())


def is_error_level(level: str) -> bool:
    """Return True for a parsed level that reports an error (ERROR, CRITICAL and their aliases)."""
    return level in ERROR_LEVELS


def refusal(event: Event, none: tuple[str, ...], *, matched: bool) -> str:
    """Return why an event is no `log.error-template` hit, or "" when it is one.

    `matched` says the signature's regexes found an error level written in the text (the
    matcher then applied its vetoes); a level the header parser read wins over the text's.
    """
    level = event.first.level
    # The level first: this runs for every line no signature matched, and most are not errors.
    if matched and level and not is_error_level(level):
        return f"level condition not met: the header says {level}, not ERROR or CRITICAL"
    if not matched and not is_error_level(level):
        shown = f"the header says {level}" if level else "neither the header nor the text has one"
        return f"level condition not met: needs an error level; {shown}"
    if event.frames or TRACEBACK in event.text:
        return "a Python traceback, which python.unhandled-exception groups"
    if matched:
        return ""
    index = vetoed(event, none)
    return f"detect.none[{index}] vetoed it" if index >= 0 else ""


def vetoed(event: Event, none: tuple[str, ...]) -> int:
    """Return the index of the first of a signature's `none` regexes that matches, else -1."""
    text = event.text
    for index, pattern in enumerate(_compiled(none)):
        try:
            if pattern.search(text, timeout=_TIMEOUT_SECONDS) is not None:
                return index
        except TimeoutError:
            return index
    return -1


@lru_cache(maxsize=8)
def _compiled(sources: tuple[str, ...]) -> tuple[regex.Pattern[str], ...]:
    return tuple(compile_pattern(source) for source in sources)


def _unquote(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


@dataclass(frozen=True, slots=True)
class Mined:
    """The template a message joined, and the one it replaced when this message widened it."""

    template: str
    previous: str = ""


@dataclass(slots=True)
class _Tree:
    """One source's templates: leaves by (token count, first token), least recently used first."""

    clusters: OrderedDict[int, list[str]] = field(default_factory=OrderedDict)
    leaves: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    next_id: int = 0
    seeded: bool = False


@dataclass(slots=True)
class TemplateMiner:
    """Learns error templates per source, bounded: the least recently used template goes first."""

    max_clusters: int = MAX_CLUSTERS_PER_SOURCE
    max_sources: int = MAX_SOURCES
    _trees: OrderedDict[str, _Tree] = field(default_factory=OrderedDict)

    def seeded(self, source: str) -> bool:
        """Return True once `seed` has run for `source` (since it was last evicted)."""
        tree = self._trees.get(source)
        return tree is not None and tree.seeded

    def seed(self, source: str, templates: list[str]) -> None:
        """Remember templates learnt before (open incidents), so a restart does not regroup."""
        tree = self._tree(source)
        tree.seeded = True
        for template in templates:
            tokens = template.split()
            if tokens and self._best(tree, tokens, exact=True) is None:
                self._add(tree, tokens)

    def learn(self, source: str, template: str) -> Mined:
        """Add a masked message to its source's tree; return the template it now belongs to."""
        tokens = template.split()
        if not tokens:
            return Mined(template)
        tree = self._tree(source)
        best = self._best(tree, tokens, exact=False)
        if best is None:
            self._add(tree, tokens)
            return Mined(" ".join(tokens))
        ident, cluster = best
        tree.clusters.move_to_end(ident)
        merged = [old if old == new else WILDCARD for old, new in zip(cluster, tokens, strict=True)]
        if merged == cluster:
            return Mined(" ".join(cluster))
        previous = " ".join(cluster)
        cluster[:] = merged
        return Mined(" ".join(merged), previous)

    def templates(self, source: str) -> list[str]:
        """Return the source's templates, least recently used first."""
        tree = self._trees.get(source)
        return [] if tree is None else [" ".join(c) for c in tree.clusters.values()]

    def _tree(self, source: str) -> _Tree:
        tree = self._trees.get(source)
        if tree is None:
            tree = self._trees[source] = _Tree()
            while len(self._trees) > self.max_sources:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(source)
        return tree

    @staticmethod
    def _best(tree: _Tree, tokens: list[str], *, exact: bool) -> tuple[int, list[str]] | None:
        best: tuple[float, int] | None = None
        for ident in tree.leaves.get(_leaf(tokens), ()):
            cluster = tree.clusters[ident]
            same = sum(1 for old, new in zip(cluster, tokens, strict=True) if old == new)
            # Drain3 counts only equal tokens, so a template cannot drift into all wildcards.
            score = same / len(tokens)
            wanted = score == 1.0 if exact else score >= SIMILARITY
            if wanted and (best is None or score > best[0]):
                best = (score, ident)
        return None if best is None else (best[1], tree.clusters[best[1]])

    def _add(self, tree: _Tree, tokens: list[str]) -> None:
        ident = tree.next_id
        tree.next_id += 1
        tree.clusters[ident] = list(tokens)
        leaf = tree.leaves.setdefault(_leaf(tokens), [])
        leaf.append(ident)
        if len(leaf) > MAX_CLUSTERS_PER_LEAF:
            self._evict(tree, leaf[0])
        while len(tree.clusters) > self.max_clusters:
            self._evict(tree, next(iter(tree.clusters)))

    @staticmethod
    def _evict(tree: _Tree, ident: int) -> None:
        cluster = tree.clusters.pop(ident)
        key = _leaf(cluster)
        leaf = tree.leaves[key]
        leaf.remove(ident)
        if not leaf:
            del tree.leaves[key]


def _leaf(tokens: list[str]) -> tuple[int, str]:
    return len(tokens), tokens[0]
