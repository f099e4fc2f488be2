"""Level words as frameworks print them, and the padding an app format puts after one."""

from __future__ import annotations

# Level words as frameworks print them, mapped to Python's canonical names.
LEVELS: dict[str, str] = {
    **dict.fromkeys(("TRACE", "DBUG", "DEBUG"), "DEBUG"),
    **dict.fromkeys(("INFO", "NOTICE", "SUCCESS"), "INFO"),
    **dict.fromkeys(("WARN", "WARNING"), "WARNING"),
    **dict.fromkeys(("ERR", "EROR", "ERROR"), "ERROR"),
    **dict.fromkeys(("CRIT", "CRITICAL", "FATAL", "ALERT", "EMERG", "EMERGENCY"), "CRITICAL"),
}
# uvicorn's "LEVEL:     message" and logging.basicConfig's "LEVEL:logger:message" use these.
PYTHON_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
# The column a padded level reaches: logging's `%(levelname)-8s `, uvicorn's `INFO:     `.
LEVEL_COLUMN = 9
UVICORN_COLUMN = 10
_INDENTS = frozenset({2, 4, 8})


def unpad(rest: str, taken: int, column: int) -> str:
    """Drop the padding after a level word of `taken` characters, keeping the message's indent.

    Formats pad the level to a column (`%(levelname)-8s ` reaches column 9, uvicorn's `INFO:`
    column 10): spaces beyond it are the message's own, a traceback line's indentation. Else,
    after one separator, Python's indents (2, 4, 8 spaces) are kept, so a traceback headed line
    by line (`ERROR   File "x.py"`) still assembles.
    """
    message = rest.lstrip(" ")
    spaces = len(rest) - len(message)
    padded = taken + spaces - column  # what is left beyond the column, read as padded
    separated = spaces - 1 in _INDENTS  # one separator, then one of Python's indents
    if padded >= 0 and (padded in _INDENTS or padded == 0 or not separated):
        kept = padded
    else:
        kept = spaces - 1 if separated else 0
    return rest[spaces - kept :] if kept else message
