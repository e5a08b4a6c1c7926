"""Who went in or out last, and each household member's latest exit: the state the rules read.

Passback and the household quota look back further than the event log may reach once the
office has acknowledged and the gate pruned. So each allowed passage also updates these two
small tables, in the event's own transaction (``kiosk.store.events.append``): pruning never
touches them, and a later event (by seq, whatever its clock said) always replaces an earlier one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kiosk.core.clock import utc_text
from kiosk.core.event_kinds import kinds_with
from kiosk.core.rules import NOT_MEMBERS

PASSAGES = kinds_with(passage=True)
_KINDS = ", ".join(f"'{kind}'" for kind in PASSAGES)
_NOT_MEMBERS = ", ".join(f"'{kind}'" for kind in NOT_MEMBERS)

# The migration: the tables, filled from the events the gate still holds (in seq order: the latest wins).
MOVEMENTS_SQL = f"""
CREATE TABLE last_passages (
    subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, direction TEXT NOT NULL,
    seq INTEGER NOT NULL, ts_utc TEXT NOT NULL, PRIMARY KEY (subject_kind, subject_id)
);
CREATE TABLE household_exits (
    household_id TEXT NOT NULL, subject_id TEXT NOT NULL, seq INTEGER NOT NULL, ts_utc TEXT NOT NULL,
    PRIMARY KEY (household_id, subject_id)
);
INSERT OR REPLACE INTO last_passages SELECT subject_kind, subject_id, direction, seq, ts_utc FROM events
WHERE outcome = 'allow' AND kind IN ({_KINDS}) AND subject_id IS NOT NULL AND direction IS NOT NULL ORDER BY seq;
INSERT OR REPLACE INTO last_passages SELECT 'vehicle', plate, direction, seq, ts_utc FROM events
WHERE outcome = 'allow' AND kind IN ({_KINDS}) AND plate IS NOT NULL AND direction IS NOT NULL ORDER BY seq;
INSERT OR REPLACE INTO household_exits SELECT household_id, subject_id, seq, ts_utc FROM events
WHERE outcome = 'allow' AND kind IN ({_KINDS}) AND direction = 'out' AND household_id IS NOT NULL
AND subject_id IS NOT NULL AND subject_kind NOT IN ({_NOT_MEMBERS}) ORDER BY seq;
"""


def note(conn: sqlite3.Connection, event: dict) -> None:
    """Keep what an allowed passage changes; call it in the transaction that inserts ``event``."""
    if event["outcome"] != "allow" or event["kind"] not in PASSAGES or not event["direction"]:
        return
    moved = [(event["subject_kind"], event["subject_id"])] if event["subject_id"] else []
    if event["plate"]:  # a vehicle passes with its driver (the event's subject): found by plate
        moved.append(("vehicle", event["plate"]))
    for kind, subject in moved:
        conn.execute("INSERT OR REPLACE INTO last_passages VALUES (?, ?, ?, ?, ?)",
                     [kind, subject, event["direction"], event["seq"], event["ts_utc"]])
    if event["direction"] == "out" and event["household_id"] and event["subject_id"] \
            and event["subject_kind"] not in NOT_MEMBERS:  # a vehicle or a visitor uses no member's quota
        conn.execute("INSERT OR REPLACE INTO household_exits VALUES (?, ?, ?, ?)",
                     [event["household_id"], event["subject_id"], event["seq"], event["ts_utc"]])


def last_passage(conn: sqlite3.Connection, subject_kind: str, subject_id: str) -> dict | None:
    row = conn.execute("SELECT direction, seq, ts_utc FROM last_passages WHERE subject_kind = ? AND subject_id = ?",
                       [subject_kind, subject_id]).fetchone()
    return {"direction": row[0], "seq": row[1], "ts_utc": row[2]} if row else None


def household_exits(conn: sqlite3.Connection, household_id: str, since: datetime, until: datetime) -> set[str]:
    """Members whose latest exit is stamped between ``since`` and ``until`` (a time stamped
    later than now came from a clock that was ahead: it is not recent)."""
    rows = conn.execute("SELECT subject_id FROM household_exits WHERE household_id = ? AND ts_utc >= ? "
                        "AND ts_utc <= ?", [household_id, utc_text(since), utc_text(until)])
    return {row[0] for row in rows}
