"""Loading signature directories into a `SignatureLibrary`, and checking them with their examples.

A later directory's signature replaces an earlier one's with the same id, which is how
`DRAINWATCH_PATTERNS_DIR` adds to or overrides the bundled `patterns/`. `drainwatch serve` loads
with `load_usable_signatures`: a file that fails its checks is skipped with its reason, and one
bad file never keeps the service from starting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

from service.outages.rules import RULES_FILE, check_rules, load_rules
from service.signatures.engine import Matcher, event_from_text
from service.signatures.schema import Case, Rule, SignatureError, parse_rule

__all__ = [
    "SignatureError",
    "SignatureLibrary",
    "check_directories",
    "check_directory",
    "check_example",
    "load_signatures",
    "load_usable_signatures",
    "run_examples",
]


class SignatureLibrary:
    """A validated set of rules with unique ids, sorted by id."""

    __slots__ = ("_index", "signatures")

    def __init__(self, signatures: Sequence[Rule]) -> None:
        self.signatures = tuple(sorted(signatures, key=lambda rule: rule.id))
        self._index = {rule.id: rule for rule in self.signatures}

    def __len__(self) -> int:
        return len(self.signatures)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.signatures)

    def __contains__(self, ident: object) -> bool:
        return ident in self._index

    @property
    def example_count(self) -> int:
        """Return how many embedded examples (near misses included) the library holds."""
        return sum(len(rule.cases) for rule in self.signatures)

    def get(self, ident: str) -> Rule | None:
        """Return the rule with this id, or None."""
        return self._index.get(ident)

    def matcher(self, *, timeout: float | None = None) -> Matcher:
        """Build a matcher over every rule of the library."""
        if timeout is None:
            return Matcher(self.signatures)
        return Matcher(self.signatures, timeout=timeout)


def load_signatures(dirs: Sequence[Path]) -> SignatureLibrary:
    """Load and validate every signature file; raise `SignatureError` listing all problems."""
    library, errors = _merge(dirs)
    if errors:
        raise SignatureError(errors)
    return library


def load_usable_signatures(dirs: Sequence[Path]) -> tuple[SignatureLibrary, list[str]]:
    """Load every valid signature file; return the library and one line per problem skipped.

    A skipped file that would have replaced an earlier directory's signature leaves that one in
    force.
    """
    return _merge(dirs)


def check_directory(directory: Path) -> list[str]:
    """Return every problem in one directory: validation and its embedded examples."""
    return check_directories([directory])


def check_directories(dirs: Sequence[Path]) -> list[str]:
    """Return every problem in the merged directories; examples run against the whole library."""
    library, errors = _merge(dirs)
    if not errors and not len(library):
        errors.append(f"{', '.join(str(d) for d in dirs)}: no signature files (*.toml) found")
    rules, rule_errors = load_rules(dirs)
    errors += rule_errors + check_rules(rules, [rule.id for rule in library.signatures])
    return errors + run_examples(library)


def run_examples(library: SignatureLibrary) -> list[str]:
    """Run every embedded example through a matcher of the whole library; return the failures."""
    matcher = library.matcher()
    problems: list[str] = []
    for rule in library.signatures:
        for case in rule.cases:
            problem = check_example(matcher, rule, case)
            if case.known_miss and problem is None:
                problems.append(f"{rule.path}: {case.key}: now matches; move it to [[examples]]")
            elif problem is not None and not case.known_miss:
                problems.append(f"{rule.path}: {case.key}: {problem}")
    for ident, reason in sorted(matcher.disabled.items()):
        disabled = library.get(ident)
        problems.append(f"{disabled.path if disabled else ident}: {reason}")
    return problems


def check_example(matcher: Matcher, rule: Rule, case: Case) -> str | None:
    """Return what is wrong with how the matcher treats one embedded example, or None."""
    hits = matcher.hits_for(event_from_text(case.example.text, source="example"))
    mine = next((hit for hit in hits if hit.signature.id == rule.id), None)
    if not case.example.matches:
        return None if mine is None else f"near miss matched {rule.id} (fields {dict(mine.fields)})"
    if mine is None:
        return f"expected a hit of {rule.id}, got {hits[0].signature.id if hits else 'no hit'}"
    winner = hits[0]
    if winner is not mine:
        return (
            f"{winner.signature.id} (priority {winner.signature.priority}) wins over "
            f"{rule.id} (priority {rule.priority})"
        )
    if mine.role != case.role:
        return f"expected role {case.role!r}, got {mine.role!r}"
    for name, expected in sorted(case.example.fields.items()):
        actual = mine.fields.get(name)
        if actual != expected:
            return f"field {name!r}: expected {expected!r}, got {actual!r}"
    return None


def _merge(dirs: Sequence[Path]) -> tuple[SignatureLibrary, list[str]]:
    rules: dict[str, Rule] = {}
    errors: list[str] = []
    for directory in dirs:
        found, problems = _read_directory(Path(directory))
        errors.extend(problems)
        rules.update((rule.id, rule) for rule in found)
    return SignatureLibrary(list(rules.values())), errors


def _read_directory(directory: Path) -> tuple[list[Rule], list[str]]:
    if not directory.is_dir():
        return [], [f"{directory}: not a directory"]
    rules: list[Rule] = []
    errors: list[str] = []
    first_seen: dict[str, str] = {}
    for path in _signature_files(directory):
        relative = path.relative_to(directory)
        display = f"{directory.name}/{relative.as_posix()}"
        if path.stem in first_seen:
            errors.append(
                f"{display}: id: duplicate id {path.stem!r}, also in {first_seen[path.stem]}"
            )
            continue
        first_seen[path.stem] = display
        area = relative.parts[0] if len(relative.parts) > 1 else None
        rule, problems = _read_file(path, display, area)
        errors.extend(problems)
        if rule is not None:
            rules.append(rule)
    return rules, errors


def _signature_files(directory: Path) -> list[Path]:
    """Return the `*.toml` files under `directory`, skipping hidden files and folders and the
    cause rules of outages (`outages.toml` at the top)."""
    return sorted(
        path
        for path in directory.rglob("*.toml")
        if path.is_file()
        and path.relative_to(directory) != Path(RULES_FILE)
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def _read_file(path: Path, display: str, area: str | None) -> tuple[Rule | None, list[str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{display}: cannot read: {exc.strerror or exc}"]
    except UnicodeDecodeError as exc:
        return None, [f"{display}: not UTF-8: {exc.reason} at byte {exc.start}"]
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{display}: invalid TOML: {exc}"]
    return parse_rule(data, file=display, stem=path.stem, area=area)
