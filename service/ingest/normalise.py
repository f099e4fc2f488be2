"""Make one raw log line safe to store and match: decoded, control-free, bounded in size.

Invalid UTF-8 becomes U+FFFD, NUL is dropped, ANSI escapes are removed, other control characters
become U+FFFD, and a line over the byte limit is cut and marked with how much was dropped.
"""

from __future__ import annotations

import re

import regex

REPLACEMENT = "\ufffd"
TRUNCATION_MARK = " …[truncated {} bytes]"

_REGEX_TIMEOUT = 0.25
# Any character that needs work: C0 controls except tab, DEL, and the C1 range (8-bit CSI is 0x9b).
_NEEDS_WORK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# CSI (ESC [ or 8-bit 0x9b) and OSC (ESC ] ... BEL or ST), then any other two-character escape.
# Each branch is a run of disjoint character classes, so matching stays linear.
_ANSI = regex.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]?"
)
# Tab is kept; NUL is dropped; every other C0/C1 control and DEL becomes U+FFFD.
_CONTROLS: dict[int, str | None] = {
    code: REPLACEMENT for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x09
}
_CONTROLS[0x00] = None


def decode_bytes(data: bytes) -> str:
    """Decode bytes as UTF-8, replacing invalid sequences and dropping a leading BOM."""
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def normalise_line(text: str, *, max_bytes: int = 65536) -> str:
    """Strip NUL and ANSI escapes, replace control characters and truncate an over-long line."""
    if _NEEDS_WORK.search(text) is not None:
        text = _clean(text)
    if len(text) * 4 <= max_bytes or (
        len(text) <= max_bytes and len(text.encode("utf-8")) <= max_bytes
    ):
        return text
    return _truncate(text, max_bytes)


def _clean(text: str) -> str:
    if "\x1b" in text or "\x9b" in text:
        try:
            text = _ANSI.sub("", text, timeout=_REGEX_TIMEOUT)
        except TimeoutError:
            text = text.replace("\x1b", "").replace("\x9b", "")
    return text.translate(_CONTROLS)


def _truncate(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    total = len(encoded)
    if total <= max_bytes:
        return text
    # The mark is sized for the largest count it could show, so head + mark stays within max_bytes.
    budget = max(0, max_bytes - len(TRUNCATION_MARK.format(total).encode("utf-8")))
    head = encoded[:budget].decode("utf-8", errors="ignore")
    dropped = total - len(head.encode("utf-8"))
    return head + TRUNCATION_MARK.format(dropped)
