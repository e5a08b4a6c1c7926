"""The gate's half of sync: its event feed, acknowledgements and pruning, health, shift logs.

The gate serves its event log in seq order with the chain hashes; the office acknowledges
what it stored, and only an acknowledged prefix older than the retention is pruned. See
docs/sync.md; the office's half is kiosk.office.pull.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator

import sqlite_utils

from kiosk import __version__
from kiosk.core.chain import GENESIS_HASH, event_hash
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.protocol import MAX_SHIFT_DAYS, Pruned, SyncError, range_digest
from kiosk.core.shifts import shifts_of_day
from kiosk.store import events as events_mod
from kiosk.store import lane_state, registry, watermark
from kiosk.store.db import connect, transaction
from kiosk.store.shift_logs import shift_log

FLUSH_LINES = 256  # lines per chunk handed to the WSGI server


def anchor(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def event_feed(db_path: Path, since: int, limit: int) -> Iterator[bytes]:
    """NDJSON lines of the events after ``since`` and a final cursor line, from one snapshot.

    Raises :class:`Pruned` (before anything is streamed) when ``since`` is older than
    the gate still holds. The rows are read lazily: memory does not depend on ``limit``.
    """
    conn = connect(db_path)
    try:
        conn.execute("BEGIN")  # one read snapshot: the 410 check and the rows agree
        anchor_seq, _ = anchor(conn)
        if since < anchor_seq:
            raise Pruned(anchor_seq + 1)
        head = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    except BaseException:
        conn.close()
        raise
    return _stream(conn, since, limit, head)


def _stream(conn: sqlite3.Connection, since: int, limit: int, head: int) -> Iterator[bytes]:
    try:
        count, last, chunk = 0, since, []
        for row in events_mod.iter_events(sqlite_utils.Database(conn), since, limit):
            chunk.append(json.dumps(row, ensure_ascii=False))
            count, last = count + 1, row["seq"]
            if len(chunk) >= FLUSH_LINES:
                yield ("\n".join(chunk) + "\n").encode("utf-8")
                chunk = []
        chunk.append(json.dumps({"next": last, "count": count, "done": last >= head}))
        yield ("\n".join(chunk) + "\n").encode("utf-8")
    finally:
        conn.close()


def acknowledge(db: sqlite_utils.Database, seq: int, hash_: str, now: datetime, retention_days: float,
                clock_synced: bool = True) -> dict:
    """Record that the office stored every event up to ``seq`` (whose hash must match), then prune
    (not on an unsynchronised clock: its "older than the retention" cannot be trusted)."""
    with transaction(db) as conn:
        row = conn.execute("SELECT hash FROM events WHERE seq = ?", [seq]).fetchone()
        anchor_seq, anchor_hash = anchor(conn)
        known = row[0] if row else (anchor_hash if seq == anchor_seq and seq > 0 else None)
        if known is None:
            raise SyncError("unknown_seq", f"this gate has no event {seq} to acknowledge")
        if known != hash_:
            raise SyncError("hash_mismatch", f"event {seq} on this gate has another hash than the office stored")
        earlier = conn.execute("SELECT acked_seq FROM sync_acks WHERE id = 1").fetchone()
        acked = max(seq, earlier[0] if earlier else 0)
        conn.execute("INSERT OR REPLACE INTO sync_acks VALUES (1, ?, ?)", [acked, utc_text(now)])
    if not clock_synced:
        return {"acked_seq": acked, "pruned": 0, "prune_refused": "clock_unsynchronised"}
    return {"acked_seq": acked, "pruned": prune(db, now, retention_days)}


PRUNE_BATCH = 500  # events deleted per write transaction: a scan never waits long for the lock


def prune(db: sqlite_utils.Database, now: datetime, retention_days: float) -> int:
    """Delete the oldest events that are acknowledged AND older than the retention.

    Only a prefix of the chain is removed (an old event after a young one stays), so
    the anchor (last pruned seq and hash) lets the rest be verified. The prefix goes in
    batches, each with its anchor in one short transaction.
    """
    cutoff = utc_text(now - timedelta(days=retention_days))
    with transaction(db, immediate=False) as conn:
        acked = conn.execute("SELECT coalesce(max(acked_seq), 0) FROM sync_acks").fetchone()[0]
        young = conn.execute("SELECT seq FROM events WHERE ts_utc >= ? ORDER BY seq LIMIT 1", [cutoff]).fetchone()
    limit = min(acked, young[0] - 1) if young else acked
    deleted = 0
    while True:
        with transaction(db) as conn:
            start = anchor(conn)[0]
            # The last of the next PRUNE_BATCH events (counted as rows: a declared log gap skips seqs).
            last = conn.execute("SELECT seq, hash FROM (SELECT seq, hash FROM events WHERE seq > ? AND seq <= ? "
                                "ORDER BY seq LIMIT ?) ORDER BY seq DESC LIMIT 1", [start, limit, PRUNE_BATCH]).fetchone()
            if last is None:
                return deleted
            deleted += conn.execute("DELETE FROM events WHERE seq <= ?", [last[0]]).rowcount
            conn.execute("INSERT OR REPLACE INTO chain_anchor VALUES (1, ?, ?)", [last[0], last[1]])


def held_digest(db: sqlite_utils.Database, first: int, last: int) -> dict:
    """The digest of the events first..last as they are now: each hash recomputed from the
    row's content, so an edit that kept the old hash column shows as well as a rehashed one."""
    rows = events_mod.iter_events(db, since=first - 1, limit=last - first + 1)
    pairs = [(row["seq"], event_hash(row)) for row in rows if row["seq"] <= last]  # lost seqs (log_gap) leave holes
    return {"first": first, "last": last, "count": len(pairs), "digest": range_digest(pairs)}


def gate_health(gate, now: datetime) -> dict:
    """What the office (and a supervisor) needs to know about a gate, as JSON."""
    db = gate.db
    meta = registry.meta(db)
    issued = meta.get("issued_utc")
    state = {row["key"]: row["value"] for row in db.query("SELECT key, value FROM sync_state")}
    acked = db.conn.execute("SELECT coalesce(max(acked_seq), 0) FROM sync_acks").fetchone()[0]
    return {
        "status": "ok", "gate_id": gate.gate_id, "site_id": gate.site_id, "version": __version__,
        "clock_utc": utc_text(now), "clock_synced": bool(gate.clock.synchronised()),
        "last_seq": events_mod.chain_head(db)[0], "lowest_seq": anchor(db.conn)[0] + 1, "acked_seq": acked,
        "watermark_seq": (watermark.read(watermark.path_of(db.conn)) or (None,))[0],
        "registry": {"version": int(meta.get("version", 0)), "issued_utc": issued,
                     "age_s": round((now - parse_utc(issued)).total_seconds()) if issued else None},
        "lanes": lane_state.lane_statuses(db),
        "free_disk_bytes": shutil.disk_usage(gate.config.home).free,
        "office_last_contact_utc": state.get("office_last_contact_utc"),
    }


def gate_shift_logs(gate, since: date, now: datetime) -> list[dict]:
    """Shift logs from ``since`` up to the current (open) shift, in order."""
    current = gate.shift(now)
    if (current.date - since).days > MAX_SHIFT_DAYS:
        raise SyncError("range", f"ask for at most {MAX_SHIFT_DAYS} days of shift logs")
    logs, day = [], since
    while day <= current.date:
        for ref in shifts_of_day(day, gate.shift_defs, gate.tz):
            if ref.start <= current.start:
                logs.append({**shift_log(gate.db, ref), "open": ref.id == current.id})
        day += timedelta(days=1)
    return logs
