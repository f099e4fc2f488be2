"""Group commit: the batches of concurrent requests written in one transaction, one fsync.

`GroupCommit.submit` queues one request's batches and returns a future at once; one writer
thread takes everything queued, hands it to the spool's `write` as one transaction, and answers
each future only after that commit returned, so an answer still means durable. Nothing waits on
purpose for company: while one commit is on disk, the requests that arrive queue up and go
together in the next. Alone, a request is written as soon as the writer is free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from service.spool.errors import SpoolClosed

# A commit carries at most this many requests' batches (and the bytes below), so that one
# transaction stays short and the first request in it is not held for the last.
MAX_REQUESTS = 512
MAX_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class Submission:
    """One request's batches, encoded, and the future its answer waits on.

    `rows` are (source, lines, body, crc); `key` is the scoped idempotency key or None. The
    future's result is True when stored, False when the key was seen before.
    """

    rows: list[tuple[str, int, bytes, int]]
    received_at: str
    key: str | None
    size: int
    future: Future[bool] = field(default_factory=Future)


class GroupCommit:
    """A writer thread that commits queued submissions together; safe to use from any thread."""

    def __init__(self, write: Callable[[list[Submission]], None], *, name: str) -> None:
        self._write = write
        self._name = name
        self._condition = threading.Condition()
        self._queue: list[Submission] = []
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, submission: Submission) -> Future[bool]:
        """Queue a submission for the next commit and return its future."""
        with self._condition:
            if self._closed:
                submission.future.set_exception(SpoolClosed("the spool is closed"))
                return submission.future
            self._queue.append(submission)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._condition.notify()
        return submission.future

    def close(self) -> None:
        """Write what is queued, then stop the writer; later submissions fail `SpoolClosed`."""
        with self._condition:
            self._closed = True
            thread = self._thread
            self._condition.notify()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._closed:
                    self._condition.wait()
                if not self._queue:
                    return
                group = self._take()
            self._commit(group)

    def _take(self) -> list[Submission]:
        size = 0
        count = 0
        for submission in self._queue:
            if count and (count >= MAX_REQUESTS or size + submission.size > MAX_BYTES):
                break
            size += submission.size
            count += 1
        taken, self._queue = self._queue[:count], self._queue[count:]
        # A request whose wait was cancelled (its task ended at shutdown) was never answered: its
        # batch is not written. The others can no longer be cancelled once taken.
        return [s for s in taken if s.future.set_running_or_notify_cancel()]

    def _commit(self, group: list[Submission]) -> None:
        if not group:
            return
        try:
            self._write(group)
        except Exception as error:  # every waiter hears of it; none is left hanging
            for submission in group:
                if not submission.future.done():
                    submission.future.set_exception(error)
