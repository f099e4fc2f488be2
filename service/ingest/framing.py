"""Splitting a byte stream into syslog frames: RFC 6587 octet counting or LF-terminated lines.

One framer serves syslog over TCP and Heroku's logplex bodies (octet-counted frames with no
separator). Incremental: bytes may arrive split anywhere, and a declared length allocates nothing.
"""

from __future__ import annotations

MAX_FRAME = 64 * 1024
MAX_DIGITS = 10


class FramingError(ValueError):
    """The stream cannot be split into frames (a length that is not a number, or too large).

    `completed` holds the frames the same `feed` call completed before the error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.completed: list[bytes] = []


class Framer:
    """Turns chunks of bytes into frames; auto-detects octet counting per frame."""

    def __init__(self, *, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes and return every frame they complete."""
        self._buffer += chunk
        frames: list[bytes] = []
        try:
            while self._buffer:
                frame = self._next()
                if frame is None:
                    break
                if frame:
                    frames.append(frame)
        except FramingError as error:
            error.completed = frames
            raise
        return frames

    def close(self) -> list[bytes]:
        """Return what is left as a last frame (a final line without its LF)."""
        rest = bytes(self._buffer).strip(b"\r\n")
        self._buffer.clear()
        return [rest] if rest else []

    @property
    def pending(self) -> int:
        """Return how many bytes wait for the rest of their frame."""
        return len(self._buffer)

    def _next(self) -> bytes | None:
        buffer = self._buffer
        while bytes(buffer[:1]) in (b"\n", b"\r"):
            del buffer[:1]
        if not buffer:
            return None
        if buffer[:1].isdigit():
            space = buffer.find(b" ", 0, MAX_DIGITS + 1)
            if space > 0 and buffer[:space].isdigit():
                # A count is only a count when a syslog message (`<PRI>`) follows it;
                # otherwise "200 OK" would be read as a 200-byte frame.
                after = bytes(buffer[space + 1 : space + 2])
                if not after:
                    return None
                if after == b"<":
                    return self._counted(space)
            elif space < 0 and len(buffer) <= MAX_DIGITS and buffer.isdigit():
                return None
        return self._line()

    def _counted(self, space: int) -> bytes | None:
        length = int(self._buffer[:space])
        if length > self.max_frame:
            raise FramingError(f"a frame declares {length} bytes; the limit is {self.max_frame}")
        end = space + 1 + length
        if len(self._buffer) < end:
            return None
        frame = bytes(self._buffer[space + 1 : end])
        del self._buffer[:end]
        return frame.rstrip(b"\r\n")

    def _line(self) -> bytes | None:
        newline = self._buffer.find(b"\n")
        if newline < 0:
            if len(self._buffer) > self.max_frame:
                raise FramingError(f"a line runs past {self.max_frame} bytes without a newline")
            return None
        frame = bytes(self._buffer[:newline]).rstrip(b"\r")
        del self._buffer[: newline + 1]
        return frame


def split_frames(data: bytes, *, max_frame: int = MAX_FRAME) -> list[bytes]:
    """Return every frame of a complete body."""
    framer = Framer(max_frame=max_frame)
    return framer.feed(data) + framer.close()
