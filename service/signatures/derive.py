"""Fields computed from the matched event rather than captured by a regex (`[detect] derive`).

They let a generic signature group the way error trackers do: by the exception type, the
message with its variable parts masked, and the deepest application frame, so that one unknown
bug raised a thousand times with a thousand ids becomes one incident.
"""

from __future__ import annotations

import regex

from service.ingest.records import Event, Frame
from service.signatures.masks import mask_message
from service.signatures.templates import error_template

# `exception`: the final exception type; `message`: its message, masked; `frame`: the deepest
# application frame as `file:function`, without a line number so edits above it do not regroup;
# `instance`: the dyno, pid or container that logged the event (start-up happens per process);
# `template`: the matched line's message with its variable parts masked (`log.error-template`).
DERIVED_FIELDS = ("exception", "message", "frame", "instance", "template")

_MAX_LINE_CHARACTERS = 1000
_TIMEOUT_SECONDS = 0.05
# A dotted CapWords name with a lowercase letter somewhere (not an all-capitals log level).
_NAME = r"(?=[\w.]*[a-z])(?:[A-Za-z_]\w*\.)*[A-Z]\w*"
_BARE_EXCEPTION = regex.compile(rf"\s*(?P<type>{_NAME})\s*")
_EXCEPTION_LINE = regex.compile(rf"(?<![\w.])(?P<type>{_NAME}): ?(?P<message>.*)")


def derive_fields(names: tuple[str, ...], event: Event, text: str, position: int) -> dict[str, str]:
    """Return the derived fields `names` for a hit whose match ended at `position` in `text`.

    Empty values are left out, as regex groups that did not participate are.
    """
    if not names:
        return {}
    exception, message = _exception(event, text, position)
    values = {
        "exception": exception,
        "message": mask_message(message) if message else "",
        "frame": _frame_key(deepest_application_frame(event.frames)),
        "instance": event.instance,
        "template": error_template(_line_at(text, position)) if "template" in names else "",
    }
    return {name: values[name] for name in names if values[name]}


def deepest_application_frame(frames: tuple[Frame, ...]) -> Frame | None:
    """Return the deepest frame of the user's own code, else the deepest frame, else None."""
    for frame in reversed(frames):
        if frame.is_application:
            return frame
    return frames[-1] if frames else None


def _frame_key(frame: Frame | None) -> str:
    if frame is None:
        return ""
    return f"{frame.file}:{frame.function}" if frame.function else frame.file


def _line_at(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : end if end >= 0 else len(text)][:_MAX_LINE_CHARACTERS]


def _exception(event: Event, text: str, position: int) -> tuple[str, str]:
    """Return (type, message): the assembled traceback's final exception, else the matched line's.

    Without an exception on the matched line, the type is empty and the line is the message.
    """
    if event.exception_type:
        return event.exception_type, event.exception_message
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : end if end >= 0 else len(text)][:_MAX_LINE_CHARACTERS]
    try:
        bare = _BARE_EXCEPTION.fullmatch(line, timeout=_TIMEOUT_SECONDS)
        if bare is not None:
            return bare["type"], ""
        found = _EXCEPTION_LINE.search(line, timeout=_TIMEOUT_SECONDS)
    except TimeoutError:
        return "", line
    if found is None:
        return "", line
    return found["type"], found["message"]
