"""Reloading the signature files on SIGHUP without stopping ingestion.

The new matcher is built off the main thread (loading and probing every regex takes a moment the
event loop must not wait for) and swapped in whole by the caller's `reload`; when the files fail
validation, the previous matcher stays in force and every problem is logged.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from service.signatures.schema import SignatureError

log = logging.getLogger("drainwatch.signatures")


class Reloader:
    """Runs `reload` (which swaps a new matcher in, returning how many signatures it holds).

    Reloads never overlap; `reloads` and `failures` count the outcomes.
    """

    def __init__(self, reload: Callable[[], int]) -> None:
        self._reload = reload
        self._lock = threading.Lock()
        self.reloads = 0
        self.failures = 0
        self.last_errors: tuple[str, ...] = ()

    def __call__(self) -> bool:
        """Reload now; return True when the new signatures are in force."""
        with self._lock:
            try:
                count = self._reload()
            except SignatureError as error:
                self.failures += 1
                self.last_errors = tuple(error.errors)
                log.error(
                    "signature reload failed, the previous signatures stay in force:\n%s",
                    "\n".join(error.errors),
                )
                return False
            except Exception as error:
                self.failures += 1
                self.last_errors = (f"{type(error).__name__}: {error}",)
                log.exception("signature reload failed, the previous signatures stay in force")
                return False
            self.reloads += 1
            self.last_errors = ()
        log.info("signatures reloaded: %d in force", count)
        return True

    def request(self) -> threading.Thread:
        """Start a reload in a background thread and return the thread."""
        thread = threading.Thread(target=self, name="drainwatch-reload", daemon=True)
        thread.start()
        return thread


def install_sighup(reloader: Reloader) -> Callable[[], None]:
    """Make SIGHUP request a reload; return a function that puts the previous handler back.

    Signals can only be handled in the main thread (and Windows has no SIGHUP): elsewhere this
    installs nothing and returns a function that does nothing.
    """
    sighup = getattr(signal, "SIGHUP", None)
    if sighup is None or threading.current_thread() is not threading.main_thread():
        log.debug("SIGHUP reload not installed: not the main thread, or no SIGHUP here")
        return _nothing

    def on_sighup(_signum: int, _frame: object) -> None:
        log.info("SIGHUP received: reloading signatures")
        reloader.request()

    previous = signal.signal(sighup, on_sighup)

    def uninstall() -> None:
        signal.signal(sighup, previous)

    return uninstall


def _nothing() -> None:
    return None
