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
    if not _is_passage(event):
        return
    for kind, subject, _where, _params in _moved(event):
        conn.execute("INSERT OR REPLACE INTO last_passages VALUES (?, ?, ?, ?, ?)",
                     [kind, subject, event["direction"], event["seq"], event["ts_utc"]])
    if _is_member_exit(event):
        conn.execute("INSERT OR REPLACE INTO household_exits VALUES (?, ?, ?, ?)",
                     [event["household_id"], event["subject_id"], event["seq"], event["ts_utc"]])


# An allowed passage the guard then found was someone else's pass (a face_check event names it).
_UNDONE = ("id NOT IN (SELECT json_extract(data, '$.face_check_of') FROM events WHERE kind = 'face_check' "
           "AND json_extract(data, '$.face_check_of') IS NOT NULL)")  # a NULL in NOT IN would match nothing


def undo(conn: sqlite3.Connection, event: dict) -> None:
    """A passage that did not happen after all (the face was not the holder's): whatever it moved
    goes back to the passage before it, as far as the log still holds one; call it in the
    transaction that records the face check. A later passage is left as it is."""
    if not _is_passage(event):
        return
    for kind, subject, where, params in _moved(event):
        if (last_passage(conn, kind, subject) or {}).get("seq") != event["seq"]:
            continue
        before = conn.execute(f"SELECT direction, seq, ts_utc FROM events WHERE outcome = 'allow' AND kind IN ({_KINDS}) "
                              f"AND direction IS NOT NULL AND {where} AND seq < ? AND {_UNDONE} "
                              "ORDER BY seq DESC LIMIT 1", [*params, event["seq"]]).fetchone()
        conn.execute("DELETE FROM last_passages WHERE subject_kind = ? AND subject_id = ?", [kind, subject])
        if before:
            conn.execute("INSERT INTO last_passages VALUES (?, ?, ?, ?, ?)", [kind, subject, *before])
    if not _is_member_exit(event):
        return
    household, subject = event["household_id"], event["subject_id"]
    if conn.execute("SELECT seq FROM household_exits WHERE household_id = ? AND subject_id = ?",
                    [household, subject]).fetchone() != (event["seq"],):
        return
    before = conn.execute(f"SELECT seq, ts_utc FROM events WHERE outcome = 'allow' AND kind IN ({_KINDS}) "
                          f"AND direction = 'out' AND household_id = ? AND subject_id = ? AND seq < ? AND {_UNDONE} "
                          "ORDER BY seq DESC LIMIT 1", [household, subject, event["seq"]]).fetchone()
    conn.execute("DELETE FROM household_exits WHERE household_id = ? AND subject_id = ?", [household, subject])
    if before:
        conn.execute("INSERT INTO household_exits VALUES (?, ?, ?, ?)", [household, subject, *before])


def _is_passage(event: dict) -> bool:
    return event["outcome"] == "allow" and event["kind"] in PASSAGES and bool(event["direction"])


def _is_member_exit(event: dict) -> bool:
    # a vehicle or a visitor uses no member's quota
    return event["direction"] == "out" and bool(event["household_id"]) and bool(event["subject_id"]) \
        and event["subject_kind"] not in NOT_MEMBERS


def _moved(event: dict) -> list[tuple[str, str, str, list]]:
    """(kind, id) of each subject the passage moved, with the condition finding its passages."""
    moved = [(event["subject_kind"], event["subject_id"], "subject_kind = ? AND subject_id = ?",
              [event["subject_kind"], event["subject_id"]])] if event["subject_id"] else []
    if event["plate"]:  # a vehicle passes with its driver (the event's subject): found by plate
        moved.append(("vehicle", event["plate"], "plate = ?", [event["plate"]]))
    return moved


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
