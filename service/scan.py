"""Offline diagnosis: log files through parse, assemble, match and incidents, in-process."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import Engine
from sqlmodel import Session

from service.errors import InputError
from service.incidents.impact import Impacts, Probes
from service.incidents.intake import apply_events
from service.incidents.nearby import IntakeState
from service.ingest.assemble import Assembler
from service.ingest.entries import to_records
from service.ingest.formats.jsonbody import parse_json_body
from service.ingest.headers import parse_text
from service.ingest.records import LogRecord
from service.notify.outbox import silence
from service.signatures.engine import Matcher

CHUNK_LINES = 20_000
# An offline scan detects nothing as it happens: its incidents are "opened" at the Unix epoch, so
# reports of the same file are the same bytes whenever it is scanned.
OFFLINE = datetime(1970, 1, 1, tzinfo=UTC)
# A JSON document rather than JSON lines: an array of objects, or pretty-printed objects one after
# another (what `render logs -o json` prints). A file of one JSON object per line reads as text.
_JSON_DOCUMENT = re.compile(r"\s*(?:\[\s*\{|\{[ \t]*\r?\n\s*\")")


@dataclass(frozen=True)
class ScanInput:
    """One thing to scan: a path (or `-` for stdin) and the source name its lines get."""

    path: str
    source: str


def source_name_for(path: str) -> str:
    """Return the default source name for a path: its file name without log/gz suffixes."""
    if path == "-":
        return "stdin"
    name = Path(path).name
    for suffix in (".gz", ".log", ".txt", ".json", ".ndjson"):
        name = name.removesuffix(suffix)
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip("-.")
    return cleaned[:100] or "scan"


@dataclass(frozen=True)
class Progress:
    """How far a scan has read: the input, the lines read so far (of every input), and the
    bytes of this input read so far of its size on disk (compressed for `.gz`), when known."""

    path: str
    lines: int
    done: int | None = None
    size: int | None = None


class _Input:
    """An open input: its text, and how far into its bytes on disk the reading has come."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._raw: BinaryIO | None = None
        try:
            if path == "-":
                self.text = _text(sys.stdin.buffer)
            else:
                self._raw = raw = open(path, "rb")  # noqa: SIM115 - closed by `close`
                gzipped = raw.read(2) == b"\x1f\x8b"
                raw.seek(0)
                binary = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
                self.text = _text(binary)
        except OSError as error:
            raise InputError(f"{path}: {error.strerror or error}") from error
        self.size = os.fstat(self._raw.fileno()).st_size if self._raw is not None else None

    @property
    def done(self) -> int | None:
        """Return the bytes of the file read so far (the text layer reads ahead a block)."""
        return self._raw.tell() if self._raw is not None else None

    def close(self) -> None:
        if self._raw is not None:
            self.text.close()
            self._raw.close()  # a GzipFile leaves the file it reads open


def _text(binary: IO[bytes] | gzip.GzipFile) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")


def read_chunks(path: str, opened: _Input | None = None) -> Iterator[str]:
    """Yield the file's text in chunks of whole lines; `.gz` is read transparently."""
    source = opened or _Input(path)
    try:
        lines: list[str] = []
        for line in source.text:
            lines.append(line)
            if len(lines) >= CHUNK_LINES:
                yield "".join(lines)
                lines = []
        if lines:
            yield "".join(lines)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise InputError(f"{path}: {error}") from error
    finally:
        source.close()


def _read_records(item: ScanInput, *, start_seq: int, opened: _Input) -> Iterator[list[LogRecord]]:
    """Yield the records of one input, chunk by chunk; a JSON document is read whole."""
    chunks = read_chunks(item.path, opened)
    first = next(chunks, "")
    if _JSON_DOCUMENT.match(first):
        text = first + "".join(chunks)
        entries = parse_json_body(text.encode("utf-8", errors="replace")).entries
        yield to_records(entries, source=item.source, received_at=None, start_seq=start_seq)
        return
    seq = start_seq
    reference = None  # the last time read: it dates the year-less times of the next chunk
    for chunk in itertools.chain([first], chunks):
        records = parse_text(chunk, source=item.source, start_seq=seq, reference=reference)
        seq += len(records)
        reference = next((r.time for r in reversed(records) if r.time), reference)
        yield records


def scan_inputs(
    engine: Engine,
    matcher: Matcher,
    inputs: list[ScanInput],
    *,
    now: datetime,
    gap_seconds: float = 5.0,
    probes: Probes | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> int:
    """Diagnose every input into the database behind `engine`; return the number of lines read.

    A scan tells no one (its sessions are `silent`): a scan into a served database must not
    page anyone about an old log. `progress` hears how far it has read after every chunk.
    """
    total = 0
    # One intake state for every input: files of several sources scanned together can be
    # correlated (a browser's CORS error in one, the server's 500 in another).
    state = IntakeState(impact=Impacts(probes=probes or Probes()))
    for item in inputs:
        assembler = Assembler(gap_seconds=gap_seconds)
        opened = _Input(item.path)
        with Session(engine, expire_on_commit=False) as session:
            silence(session)
            for records in _read_records(item, start_seq=total, opened=opened):
                total += len(records)
                apply_events(session, matcher, assembler.feed(records), now=now, state=state)
                if progress is not None:
                    progress(Progress(item.path, total, opened.done, opened.size))
            apply_events(session, matcher, assembler.flush(), now=now, state=state)
            session.commit()
    return total
