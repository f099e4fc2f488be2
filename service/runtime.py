"""What a running drainwatch holds: settings, engine, spool, the current matcher, the processor,
the notification dispatcher (incident events, the webhook) and the pager (outage messages)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jinja2 import Environment
from sqlalchemy import Engine

from service.dbsetup import DatabaseSetup
from service.metrics import Metrics
from service.notify.deliver import Dispatcher
from service.notify.paging import Pager
from service.outages.rules import check_rules, load_rules
from service.processor import Processor
from service.ratelimit import RateLimiter
from service.remote_processor import RemoteProcessor
from service.settings import Settings
from service.signatures.engine import Matcher
from service.signatures.loader import SignatureError, load_usable_signatures
from service.signatures.model import Signature
from service.spool.store import Spool
from service.spool.tally import Tally
from service.worker import Worker

if TYPE_CHECKING:
    from service.listener import SyslogListener

log = logging.getLogger("drainwatch.signatures")


class SignatureBook:
    """The loaded signature set; reloading swaps a whole new matcher in at once.

    A signature file that fails its checks is skipped with its reason (`problems`), so one bad
    file never stops `serve`. A reload that brings a problem the set in force did not have is
    refused whole, and the previous signatures stay in force.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        # Told after each reload that holds: a processor in another process reloads its own.
        self.on_reload: Callable[[], None] | None = None
        self._matcher, self.problems = self._build()
        for problem in self.problems:
            log.warning("signature file skipped: %s", problem)

    def _build(self) -> tuple[Matcher, tuple[str, ...]]:
        library, problems = load_usable_signatures(self._settings.pattern_dirs)
        rules, rule_problems = load_rules(self._settings.pattern_dirs)
        problems += rule_problems + check_rules(rules, [s.id for s in library.signatures])
        return Matcher(library.signatures, outage_rules=rules), tuple(problems)

    @property
    def matcher(self) -> Matcher:
        """Return the matcher in force."""
        return self._matcher

    @property
    def signatures(self) -> tuple[Signature, ...]:
        """Return the loaded signatures, sorted by id."""
        return tuple(sorted(self._matcher.signatures, key=lambda s: s.id))

    @property
    def by_id(self) -> dict[str, Signature]:
        """Return the loaded signatures by id."""
        return {signature.id: signature for signature in self._matcher.signatures}

    def reload(self) -> int:
        """Load the signature files again and swap them in whole; return how many loaded."""
        matcher, problems = self._build()
        new = [problem for problem in problems if problem not in self.problems]
        if new:
            raise SignatureError(new)
        with self._lock:
            self._matcher, self.problems = matcher, problems
        if self.on_reload is not None:
            self.on_reload()
        return len(matcher.signatures)


@dataclass
class Runtime:
    """The objects one `drainwatch serve` process shares between requests and its threads."""

    settings: Settings
    engine: Engine
    book: SignatureBook
    spool: Spool
    processor: Processor | RemoteProcessor
    setup: DatabaseSetup
    dispatcher: Dispatcher
    pager: Pager
    metrics: Metrics
    report_env: Environment
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0, 0))
    listener: SyslogListener | None = None
    puller: Worker | None = None
    # Numbers follow the microseconds since the epoch, so the records of a restarted process come
    # after what its spool and held-back records kept from before, and the batches several web
    # processes accept for one source are numbered in the order they were accepted (to within the
    # clock's step: a million numbers a second, against some tens of thousands of lines).
    _next_seq: int = field(default_factory=lambda: time.time_ns() // 1000)
    _seq_lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve_seq(self, count: int) -> int:
        """Reserve `count` record numbers and return the first.

        The assembler orders what it emits by record number; numbering every batch from the
        clock (never going back within this process) keeps a traceback held back from one batch
        ahead of the lines of the next, whichever web process took each in.
        """
        with self._seq_lock:
            start = max(self._next_seq, time.time_ns() // 1000)
            self._next_seq = start + count
        return start

    started: threading.Event = field(default_factory=threading.Event)
    _tally: Tally | None = None

    @property
    def tally(self) -> Tally:
        """Return the per-source counts of the spool file (opened on first use)."""
        with self._seq_lock:
            if self._tally is None:
                self._tally = Tally(self.spool.path)
            return self._tally

    def close_tally(self) -> None:
        """Close the counts' connection, if it was opened."""
        with self._seq_lock:
            if self._tally is not None:
                self._tally.close()
                self._tally = None
