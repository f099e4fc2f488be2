"""Root causes read from the stack when a traceback's exception line is missing.

A signature's `[detect] frames` names the library functions that raise its failure (SQLAlchemy's
`await_only` raising `MissingGreenlet`); the deepest frame of a traceback cut before its exception
line is looked up here, in one dictionary probe. A frame a terminal cut before its function name
(`systemctl status`) is looked up by its source line instead. The entries are read from a
signature file here too (`read_frames`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from service.ingest.records import Frame
from service.signatures.model import RuleKind
from service.signatures.tables import TableReader

# A source line cut at the terminal width still names its rule's line when this much is left.
MIN_CUT_CODE = 12
# `[detect] frames`: a relative `/`-separated .py or .pyx path, and a function name.
FRAME_FILE = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.(?:py|pyx)")
FRAME_FUNCTION = re.compile(r"[A-Za-z_]\w*|<module>")


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
            return not frame.function and self._matches_cut(frame)
        path = frame.file.replace("\\", "/")
        if path != self.file and not path.endswith("/" + self.file):
            return False
        return not (self.code and frame.code and not frame.code.startswith(self.code))

    def _matches_cut(self, frame: Frame) -> bool:
        """Match a frame cut before its function name, by its source line alone.

        The cut may also have taken the end of the path (after this rule's first folder) or of
        the source line (when at least `MIN_CUT_CODE` characters are left).
        """
        code, wanted = frame.code, self.code
        if not wanted or not code:
            return False
        cut_code = len(code) >= MIN_CUT_CODE and wanted.startswith(code)
        if not code.startswith(wanted) and not cut_code:
            return False
        path = frame.file.replace("\\", "/")
        if path == self.file or path.endswith("/" + self.file):
            return True
        folder = self.file.partition("/")[0] + "/"
        at = path.rfind("/" + folder)
        tail = path[at + 1 :] if at >= 0 else path if path.startswith(folder) else ""
        return bool(tail) and self.file.startswith(tail)


class FrameIndex:
    """The frame rules of a signature set, by function name; owners are signature indexes."""

    __slots__ = ("_by_function", "_with_code")

    def __init__(self, rules: Iterable[tuple[int, FrameRule]]) -> None:
        by_function: dict[str, list[tuple[int, FrameRule]]] = {}
        ordered = sorted(rules, key=lambda item: item[0])
        for owner, rule in ordered:
            by_function.setdefault(rule.function, []).append((owner, rule))
        self._by_function = {name: tuple(found) for name, found in by_function.items()}
        # A frame cut before its function name can only be told by its source line.
        self._with_code = tuple((owner, rule) for owner, rule in ordered if rule.code)

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
        found = self._by_function.get(deepest.function, ()) if deepest.function else self._with_code
        for owner, rule in found:
            if rule.matches(deepest):
                return owner, rule
        return None


def read_frames(
    detect: TableReader, kind: RuleKind, captured: Mapping[str, set[str]]
) -> tuple[FrameRule, ...]:
    """Read `frames`: the library frames whose raising, at the bottom of a cut traceback, names
    this signature's failure; their `fields` must be captured by some `any` regex."""
    tables = detect.tables("frames", required=False)
    if tables and kind != "single":
        detect.error("frames", 'only a kind = "single" signature infers its hit from frames')
    opening = {name for key, names in captured.items() if key.startswith("any[") for name in names}
    rules: list[FrameRule] = []
    for index, table in enumerate(tables):
        file = table.text("file")
        if file and not FRAME_FILE.fullmatch(file):
            table.error("file", "must be a relative path with `/`, ending in .py or .pyx")
        function = table.text("function")
        if function and not FRAME_FUNCTION.fullmatch(function):
            table.error("function", "must be a function name")
        code = table.text("code", required=False).strip()
        fields = table.strings("fields")
        for name in fields:
            if name not in opening:
                table.error(f"fields.{name}", f"{name!r} is not captured by any detect.any regex")
        table.finish()
        # One function may raise on several lines (or Python versions show it differently).
        if (file, function, code) in {(rule.file, rule.function, rule.code) for rule in rules}:
            detect.error(f"frames[{index}]", f"{file}:{function} is listed twice with this code")
        rules.append(FrameRule(file=file, function=function, code=code, fields=fields))
    return tuple(rules)
