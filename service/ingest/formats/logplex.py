"""Heroku's `application/logplex-1` bodies: RFC 6587 octet-counted RFC 5424 frames, back to back.

Each frame is one syslog line (`<190>1 2025-09-19T12:43:14.000000+00:00 host app web.1 - msg`); its
header is peeled downstream like any syslog text line. A stray LF between frames is tolerated.
"""

from __future__ import annotations

from service.ingest.entries import BodyError, Entry, Parsed
from service.ingest.framing import MAX_FRAME, Framer, FramingError


def parse_logplex(data: bytes, *, max_frame: int = MAX_FRAME) -> Parsed:
    """Split a logplex body into one entry per frame.

    Frames before a framing error are kept and the rest of the body counts as one rejected
    `bad_frame`; a body that yields no frame at all is a `BodyError`.
    """
    framer = Framer(max_frame=max_frame)
    parsed = Parsed()
    try:
        frames = framer.feed(data) + framer.close()
    except FramingError as error:
        frames = error.completed
        parsed.rejected["bad_frame"] += 1
        if not frames:
            raise BodyError("bad_logplex", f"the logplex body cannot be framed: {error}") from error
    for frame in frames:
        parsed.entries.append(Entry(message=frame.decode("utf-8", errors="replace")))
    return parsed
