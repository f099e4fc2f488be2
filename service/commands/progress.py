"""A progress bar for `scan` on a terminal's stderr: how much of each input is read, the lines so
far, the rate and the time left. Only on a terminal: piped or redirected, stderr gets nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from service.scan import Progress

WIDTH = 24
# Redrawing a terminal line costs a write; a few a second is all an eye follows.
EVERY_SECONDS = 0.2


class ProgressBar:
    """Draws `Progress` on one terminal line, rewritten in place, and clears it at the end."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._drawn = 0.0
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        """Redraw the line for `progress`, at most every `EVERY_SECONDS`."""
        now = self._clock()
        if self._shown and now - self._drawn < EVERY_SECONDS:
            return
        self._drawn, self._shown = now, True
        self._stream.write("\r" + line(progress, now - self._start) + "\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        """Clear the line, leaving the terminal as it was."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def line(progress: Progress, seconds: float) -> str:
    """Return the bar's text: `[#####.....]  42%  420,000 lines  98,000 lines/s  3 s left`."""
    rate = progress.lines / seconds if seconds > 0 else 0.0
    counts = f"{progress.lines:,} lines  {rate:,.0f} lines/s"
    if progress.done is None or not progress.size:
        return counts  # stdin: how much is left is not known
    share = min(progress.done / progress.size, 1.0)
    filled = round(share * WIDTH)
    left = f"  {seconds * (1 - share) / share:.0f} s left" if 0 < share < 1 else ""
    return f"[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}  {counts}{left}"
