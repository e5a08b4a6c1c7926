"""The gate's append-only event log with a hash chain.

Each event stores a monotonically increasing ``seq``, a globally unique ``id`` and
``hash = SHA-256(canonical JSON of the event including prev_hash)``. The office
recomputes the chain to prove nothing was altered, inserted or removed.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import uuid
from typing import Any, Iterator

import sqlite_utils

from kiosk.core.chain import GENESIS_HASH, LOG_GAP, ChainReport, event_hash, verify_rows
from kiosk.core.clock import Stamp
from kiosk.core.event_kinds import check_kind
from kiosk.store import movements, watermark
from kiosk.store.db import after_commit, integrity_ok, transaction

log = logging.getLogger(__name__)

OPTIONAL_FIELDS = ("lane", "direction", "outcome", "pass_id", "subject_kind", "subject_id",
                   "household_id", "plate", "temperature", "guard_id", "shift_id", "nonce")


class RecordingError(Exception):
    """An event could not be stored durably (disk full, read-only, I/O error, locked, corrupt)."""


class LostEvents(RecordingError):
    """The log is shorter than its watermark: recording waits for a supervisor's ``log_gap``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def chain_head(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) of the newest event, or of the pruning anchor, or genesis."""
    row = db.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    if row:
        return row[0], row[1]
    anchor = db.conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone()
    return (anchor[0], anchor[1]) if anchor else (0, GENESIS_HASH)


def time_ordered_id() -> str:
    """A UUID version 7 (RFC 9562): the milliseconds since 1970, then 74 random bits.

    As unique as a random UUID; but written in time order, each new id goes to the end of the
    id indexes (the gate's events, the office's gate_events) instead of a random page of a
    million-row index that is mostly not in memory.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant RFC 9562
    return str(uuid.UUID(int=value))


def find_by_nonce(db: sqlite_utils.Database, nonce: str) -> dict | None:
    rows = list(db.query("SELECT * FROM events WHERE nonce = ?", [nonce]))
    return rows[0] if rows else None


def append(db: sqlite_utils.Database, *, gate_id: str, site_id: str, kind: str, stamp: Stamp,
           codes: list[str] | None = None, data: dict | None = None, **fields: Any) -> dict:
    """Append one event durably and return the stored row.

    With a ``nonce`` that was already recorded, nothing is written and the earlier
    event is returned: a repeated submission changes nothing. Inside the caller's open
    transaction the event commits (or rolls back) with the caller's other writes.
    """
    check_kind(kind)
    unknown = set(fields) - set(OPTIONAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown event fields: {sorted(unknown)}")
    try:
        return _append(db, gate_id, site_id, kind, stamp, codes, data, fields)
    except sqlite3.DatabaseError as exc:  # full, read-only, locked, or a damaged file: all "not recorded"
        raise RecordingError(f"event not recorded: {exc}") from exc


def _append(db: sqlite_utils.Database, gate_id: str, site_id: str, kind: str, stamp: Stamp,
            codes: list[str] | None, data: dict | None, fields: dict[str, Any]) -> dict:
    with transaction(db):
        if fields.get("nonce"):
            earlier = find_by_nonce(db, fields["nonce"])
            if earlier:
                return earlier
        seq, prev_hash = chain_head(db)
        next_seq, data = _after_lost_tail(db, seq, kind, data)
        latest = _latest_time(db, seq)
        if latest and stamp.utc < latest:
            # The clock went back (a Pi without network after a power cut): keep seq order,
            # flag every event until the clock passes the latest time seen, so the office
            # can place them using the measured clock offset.
            data = {**(data or {}), "clock_behind_previous": latest}
        event = {name: fields.get(name) for name in OPTIONAL_FIELDS}
        if event["temperature"] is not None:  # stored as REAL: hash what will be read back
            event["temperature"] = float(event["temperature"])
        event.update(
            seq=next_seq, id=time_ordered_id(), gate_id=gate_id, site_id=site_id, kind=kind,
            codes=json.dumps(codes or []), ts_utc=stamp.utc, ts_local=stamp.local, tz=stamp.tz,
            clock_synced=int(stamp.clock_synced),
            data=json.dumps(data or {}, sort_keys=True, ensure_ascii=False), prev_hash=prev_hash,
        )
        event["hash"] = event_hash(event)
        columns = ", ".join(event)
        marks = ", ".join("?" for _ in event)
        db.conn.execute(f"INSERT INTO events ({columns}) VALUES ({marks})", list(event.values()))
        movements.note(db.conn, event)  # the passback/quota state, committed with its event
        _mark_head(db)
    return event


def _after_lost_tail(db: sqlite_utils.Database, seq: int, kind: str, data: dict | None) -> tuple[int, dict | None]:
    """The next event's seq. Below the watermark (the card lost committed events) nothing is
    recorded: the lost seqs may be at the office already, and reusing them would break its chain.
    A supervisor's ``log_gap`` event (Gate.acknowledge_lost_events) declares the lost range and
    takes the seq after it; recording goes on from there."""
    path = watermark.path_of(db.conn)
    mark = watermark.read(path) if path else None
    lost = mark if mark and mark[0] > seq else None
    if kind == LOG_GAP:
        if lost is None:
            raise LostEvents("no_events_lost", f"no events were lost: the log's head is seq {seq}")
        return lost[0] + 1, {**(data or {}), "lost_from": seq + 1, "lost_to": lost[0], "lost_head_hash": lost[1]}
    if lost is not None:
        raise LostEvents("events_lost", f"events lost: the log ends at seq {seq} but had reached seq {lost[0]}; "
                                        "nothing is recorded until a supervisor acknowledges the gap "
                                        "(kiosk log-gap)")
    return seq + 1, data


def _mark_head(db: sqlite_utils.Database) -> None:
    """Once committed, the head goes to the watermark file (lost WAL tails then show). Read
    after the commit: an event rolled back with its savepoint never raises the mark."""
    path = watermark.path_of(db.conn)
    if path is not None:
        after_commit(db.conn, "watermark", lambda: _write_mark(db, path))


def _write_mark(db: sqlite_utils.Database, path) -> None:
    try:
        watermark.write(path, *chain_head(db))
    except (OSError, sqlite3.Error) as exc:  # the event is committed; a stale mark only weakens the check
        log.warning("head watermark not written: %s", exc)


def _latest_time(db: sqlite_utils.Database, seq: int) -> str | None:
    """The latest time recorded so far: the previous event's, or the mark it carries forward."""
    previous = db.conn.execute("SELECT ts_utc, data FROM events WHERE seq = ?", [seq]).fetchone()
    if previous is None:
        return None
    carried = json.loads(previous[1]).get("clock_behind_previous")
    return max(previous[0], carried) if carried else previous[0]


def iter_events(db: sqlite_utils.Database, since: int = 0, limit: int | None = None) -> Iterator[dict]:
    sql = "SELECT * FROM events WHERE seq > ? ORDER BY seq"
    params: list[Any] = [since]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    yield from db.query(sql, params)


def verify_log(db: sqlite_utils.Database) -> ChainReport:
    """Verify the whole local chain (from the pruning anchor) and SQLite's integrity.

    The anchor is where pruning stopped, and only acknowledged events are ever pruned: an
    anchor beyond the office's acknowledgement means events were deleted (and the anchor
    forged to hide it) before the office had them. A database too damaged to read is a
    failed report saying so, never an exception.
    """
    try:
        anchor = db.conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone()
        start_seq, start_hash = anchor if anchor else (0, GENESIS_HASH)
        report = verify_rows(iter_events(db, since=start_seq), start_seq, start_hash)
        acked = db.conn.execute("SELECT coalesce(max(acked_seq), 0) FROM sync_acks").fetchone()[0]
        if start_seq > acked:
            report.problems.insert(0, f"the pruning anchor (seq {start_seq}) runs ahead of what the office "
                                      f"acknowledged (seq {acked}): unacknowledged events were deleted")
            report.ok = False
        lost = watermark.lost_tail(db.conn, chain_head(db)[0])
        if lost is not None:
            report.problems.append(f"events lost: the log ends at seq {chain_head(db)[0]} but had reached seq "
                                   f"{lost} (its watermark {watermark.path_of(db.conn)})")
            report.ok = False
    except sqlite3.DatabaseError as exc:
        report = ChainReport(ok=False, checked=0, problems=[f"the event log cannot be read: {exc}"])
    try:
        ok, detail = integrity_ok(db)
    except sqlite3.DatabaseError as exc:
        ok, detail = False, str(exc)
    if not ok:
        report.problems.insert(0, f"database integrity check failed: {detail}")
        report.ok = False
    return report
