"""Root causes read from the stack when a traceback's exception line is missing.

A signature's `[detect] frames` names the library functions that raise its failure (SQLAlchemy's
`await_only` raising `MissingGreenlet`); the deepest frame of a traceback cut before its exception
line is looked up here, in one dictionary probe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from service.ingest.records import Frame


@dataclass(frozen=True, slots=True)
class FrameRule:
    """A library frame whose raising names a signature's failure.

    `file` is a `/`-separated path suffix (`sqlalchemy/util/_concurrency_py3k.py`); `code`, when
    set, is what the frame's source line starts with when the log shows it (a function that both
    raises and calls deeper code raises only on that line); `fields` are the values the missing
    exception line would have given.
    """

    file: str
    function: str
    code: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)

    def matches(self, frame: Frame) -> bool:
        """Return True when `frame` is this rule's function in this rule's file."""
        if frame.function != self.function:
            return False
        path = frame.file.replace("\\", "/")
        if path != self.file and not path.endswith("/" + self.file):
            return False
        return not (self.code and frame.code and not frame.code.startswith(self.code))


class FrameIndex:
    """The frame rules of a signature set, by function name; owners are signature indexes."""

    __slots__ = ("_by_function",)

    def __init__(self, rules: Iterable[tuple[int, FrameRule]]) -> None:
        by_function: dict[str, list[tuple[int, FrameRule]]] = {}
        for owner, rule in sorted(rules, key=lambda item: item[0]):
            by_function.setdefault(rule.function, []).append((owner, rule))
        self._by_function = {name: tuple(found) for name, found in by_function.items()}

    def __bool__(self) -> bool:
        return bool(self._by_function)

    def owner(self, frames: tuple[Frame, ...]) -> tuple[int, FrameRule] | None:
        """Return the lowest owner whose rule the deepest frame matches, with that rule.

        Only the deepest frame counts: a library function higher up the stack (`await_only` on
        its way to the driver) only passed the failure through.
        """
        if not frames:
            return None
        deepest = frames[-1]
        for owner, rule in self._by_function.get(deepest.function, ()):
            if rule.matches(deepest):
                return owner, rule
        return None
