"""Syslog over TCP (and TLS), as Render log streams send it: frames in, batches into the spool."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from service.db import utcnow
from service.ingest.framing import Framer, FramingError
from service.ingest.headers import parse_text
from service.ingest.normalise import decode_bytes
from service.ingest.timestamps import ignored_times
from service.runtime import Runtime
from service.spool.store import SpoolFull
from service.spool.tally import TIME_OUT_OF_RANGE

log = logging.getLogger("drainwatch.syslog")
READ_BYTES = 64 * 1024
SPOOL_FULL_PAUSE = 1.0


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Return a server TLS context for the listener."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class SyslogListener:
    """Accepts syslog connections; every chunk's complete frames become one spool batch."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str,
        port: int,
        source: str,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.source = source
        self.tls = tls
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        sockets = self._server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info(
            "syslog listener on %s:%s (%s)", self.host, self.port, "TLS" if self.tls else "TCP"
        )

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = Framer(max_frame=self.runtime.settings.max_line_bytes)
        peer = writer.get_extra_info("peername")
        try:
            while data := await reader.read(READ_BYTES):
                await self._store(framer.feed(data))
            await self._store(framer.close())
        except FramingError as error:
            self.runtime.metrics.requests_rejected.labels(error="syslog_framing").inc()
            log.warning("closing syslog connection from %s: %s", peer, error)
        except (ConnectionError, ssl.SSLError) as error:
            log.info("syslog connection from %s ended: %s", peer, error)
        finally:
            writer.close()

    async def _store(self, frames: list[bytes]) -> None:
        if not frames:
            return
        now = utcnow()
        text = "\n".join(decode_bytes(frame) for frame in frames)
        times_mark = ignored_times()
        records = parse_text(
            text,
            source=self.source,
            received_at=now,
            start_seq=self.runtime.reserve_seq(text.count("\n") + 1),
            max_line_bytes=self.runtime.settings.max_line_bytes,
        )
        # Parsed on this thread without a pause: the running count's change is this batch's.
        ignored = ignored_times() - times_mark
        if not records:
            return
        while True:
            try:
                await asyncio.to_thread(
                    self.runtime.spool.append, self.source, records, received_at=now
                )
                break
            except SpoolFull:
                # Not reading more is TCP's own back-pressure: the sender waits, nothing is lost.
                await asyncio.sleep(SPOOL_FULL_PAUSE)
        self.runtime.metrics.lines_accepted.labels(source=self.source).inc(len(records))
        if ignored:
            self.runtime.metrics.times_ignored.inc(ignored)
            await asyncio.to_thread(
                self.runtime.tally.add, TIME_OUT_OF_RANGE, {self.source: ignored}
            )
