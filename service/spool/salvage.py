"""What can still be read of a spool file SQLite finds malformed: its batch and meta rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

COLUMNS = "seq, source, received_at, lines, body, crc"
Row = tuple[int, str, str, int, bytes, int | None]


def readable(path: Path) -> tuple[list[Row], list[tuple[str, str]], int]:
    """Return the batch rows and meta rows still readable in a damaged spool file, and how many
    batch rows could not be read."""
    rows: list[Row] = []
    meta: list[tuple[str, str]] = []
    lost = 0
    try:
        db = sqlite3.connect(path)
    except sqlite3.Error:
        return rows, meta, lost
    try:
        try:
            meta = list(db.execute("SELECT name, value FROM meta WHERE name != 'damage'"))
        except sqlite3.Error:
            meta = []
        try:
            rows = list(db.execute(f"SELECT {COLUMNS} FROM batch ORDER BY seq"))  # noqa: S608
            return rows, meta, lost
        except sqlite3.Error:
            rows = []
        try:
            seqs = sorted(int(seq) for (seq,) in db.execute("SELECT seq FROM batch"))
        except sqlite3.Error:
            try:
                low, high = db.execute("SELECT MIN(seq), MAX(seq) FROM batch").fetchone()
                seqs = list(range(int(low or 1), int(high or 0) + 1))
            except sqlite3.Error:
                seqs = []
        for seq in seqs:
            try:
                row = db.execute(
                    f"SELECT {COLUMNS} FROM batch WHERE seq = ?",  # noqa: S608
                    (seq,),
                ).fetchone()
            except sqlite3.Error:
                lost += 1
                continue
            if row is not None:
                rows.append(row)
    finally:
        db.close()
    return rows, meta, lost
