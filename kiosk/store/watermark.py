"""The head of the event log, kept apart from the database: lost tail events show.

SQLite keeps committed events in its WAL until a checkpoint; a card that loses or truncates
the WAL loses them with no error, and new scans would reuse their seqs. So after each commit
that appended events, their newest seq and hash are written to ``<db>.head`` (one fixed-size
record, fdatasync'ed: cheap beside SQLite's own fsyncs). A database whose head is below its
watermark lost events: said at start (log), by ``kiosk doctor`` and to the office (health).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

RECORD = 96  # "seq hash" padded: one write, well inside a sector


def path_of(conn: sqlite3.Connection) -> Path | None:
    row = conn.execute("PRAGMA database_list").fetchone()
    return Path(row[2] + ".head") if row and row[2] else None


def write(path: Path, seq: int, hash_: str) -> None:
    record = f"{seq} {hash_}".ljust(RECORD - 1).encode() + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, record, 0)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> tuple[int, str] | None:
    """(seq, hash) of the watermark, or None when there is none (an older gate, a fresh one)."""
    try:
        seq, hash_ = path.read_text(encoding="ascii").split()
        return int(seq), hash_
    except (FileNotFoundError, ValueError):
        return None


def lost_tail(conn: sqlite3.Connection, head_seq: int) -> int | None:
    """The watermark's seq when the database's head is below it (events lost), else None."""
    path = path_of(conn)
    mark = read(path) if path else None
    return mark[0] if mark and mark[0] > head_seq else None
