"""The tables the scan loop and the web process share on the gate: each lane's device status,
temperatures a guard typed on the page for a lane's next scan, each lane's current
presentation, and commands for a lane (open the gate for an override made on the touchscreen).

The lane process writes ``lane_status`` and ``lane_presentations``, consumes
``manual_readings`` and carries out ``lane_commands``; the web process reads the first and
adds to the last two. Nothing else touches them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from kiosk.core.clock import parse_utc, utc_text


def write_lane_status(db: sqlite_utils.Database, lane: str, row: tuple, now: datetime) -> None:
    """One lane's (camera, thermometer, scanner, detail) as the web page and the office see it."""
    db.conn.execute(
        "INSERT INTO lane_status (lane, camera, thermometer, scanner, detail, updated_utc) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (lane) DO UPDATE SET camera = excluded.camera, "
        "thermometer = excluded.thermometer, scanner = excluded.scanner, "
        "detail = excluded.detail, updated_utc = excluded.updated_utc",
        [lane, *row, utc_text(now)])


def lane_statuses(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM lane_status ORDER BY lane"))


def add_manual_reading(db: sqlite_utils.Database, lane: str, value: float, guard_id: str, now: datetime,
                       remeasure_of: str | None = None) -> int:
    """Queue a typed temperature for the lane's next scan; returns its id.

    ``remeasure_of`` binds it to a refused event: then it is that pass's re-measurement and is used
    even on a lane whose sensor works; unbound, it stands in only for a missing or failed sensor.
    """
    return db["manual_readings"].insert({"lane": lane, "value": value, "guard_id": guard_id,
                                         "entered_utc": utc_text(now), "consumed_utc": None,
                                         "remeasure_of": remeasure_of}).last_pk


def unconsumed_readings(db: sqlite_utils.Database, lane: str, limit: int = 5) -> list[dict]:
    """The lane's newest readings not yet used, newest first: id, value, entered_utc, guard_id,
    and for a re-measurement the refused pass (remeasure_pass_id, else None)."""
    return list(db.query(
        "SELECT m.id, m.value, m.entered_utc, m.guard_id, m.remeasure_of, e.pass_id AS remeasure_pass_id "
        "FROM manual_readings m LEFT JOIN events e ON e.id = m.remeasure_of "
        "WHERE m.lane = ? AND m.consumed_utc IS NULL ORDER BY m.id DESC LIMIT ?", [lane, limit]))


def consume_reading(db: sqlite_utils.Database, reading_id: int, now: datetime) -> None:
    db.conn.execute("UPDATE manual_readings SET consumed_utc = ? WHERE id = ? AND consumed_utc IS NULL",
                    [utc_text(now), reading_id])


@dataclass(frozen=True)
class Presentation:
    nonce: str
    signalled: bool  # the lane finished showing its decision (LEDs, buzzer, relay)


def present(db: sqlite_utils.Database, lane: str, token: str, now: datetime, window_s: float) -> Presentation:
    """The presentation of ``token`` at ``lane``: the one under way, or a new one.

    The same code at the same lane within ``window_s`` of the presentation's start is that
    presentation again (a retry after a crash, or the phone held up a second time): its
    event carries the same nonce, so it is recorded once. Otherwise a new nonce is drawn.
    """
    token_sha = hashlib.sha256(token.encode("utf-8")).hexdigest()
    row = db.conn.execute("SELECT token_sha, nonce, started_utc, signalled_utc FROM lane_presentations "
                          "WHERE lane = ?", [lane]).fetchone()
    if row and row[0] == token_sha and timedelta(0) <= now - parse_utc(row[2]) < timedelta(seconds=window_s):
        return Presentation(row[1], row[3] is not None)
    nonce = uuid.uuid4().hex
    db.conn.execute("INSERT OR REPLACE INTO lane_presentations VALUES (?, ?, ?, ?, NULL)",
                    [lane, token_sha, nonce, utc_text(now)])
    return Presentation(nonce, False)


def mark_signalled(db: sqlite_utils.Database, lane: str, nonce: str, now: datetime) -> None:
    db.conn.execute("UPDATE lane_presentations SET signalled_utc = ? WHERE lane = ? AND nonce = ?",
                    [utc_text(now), lane, nonce])


# An open command older than this when the lane sees it (the lane process was down) opens
# nothing: the guard, told so on the page, opens by hand.
OPEN_COMMAND_TTL_S = 30.0


def add_open_command(db: sqlite_utils.Database, lane: str, event_id: str, now: datetime) -> int:
    """Ask the lane's process to open its gate for a recorded event (e.g. an override)."""
    return _add_command(db, lane, "open", event_id, now)


def add_alarm_command(db: sqlite_utils.Database, lane: str, event_id: str, now: datetime) -> int:
    """Ask the lane's process to sound its refusal for a refusal recorded on the screen (a face
    that does not match the holder's photo): the person at the lane hears and sees it."""
    return _add_command(db, lane, "alarm", event_id, now)


def _add_command(db: sqlite_utils.Database, lane: str, kind: str, event_id: str, now: datetime) -> int:
    return db["lane_commands"].insert({"lane": lane, "kind": kind, "event_id": event_id,
                                       "created_utc": utc_text(now), "done_utc": None, "result": None}).last_pk


def pending_commands(db: sqlite_utils.Database, lane: str) -> list[tuple[int, str, str]]:
    """(id, kind, created_utc) of the lane's commands not yet done, oldest first (a partial index)."""
    return db.conn.execute("SELECT id, kind, created_utc FROM lane_commands WHERE lane = ? "
                           "AND done_utc IS NULL ORDER BY id", [lane]).fetchall()


def finish_command(db: sqlite_utils.Database, command_id: int, result: str, now: datetime) -> None:
    """``result`` is ``opened`` (``now`` is when the relay opened), ``sounded`` or ``expired``."""
    db.conn.execute("UPDATE lane_commands SET done_utc = ?, result = ? WHERE id = ? AND done_utc IS NULL",
                    [utc_text(now), result, command_id])


def command_for(db: sqlite_utils.Database, event_id: str) -> dict | None:
    rows = list(db.query("SELECT * FROM lane_commands WHERE event_id = ?", [event_id]))
    return rows[0] if rows else None


def command_stale(created_utc: str, now: datetime) -> bool:
    return (now - parse_utc(created_utc)).total_seconds() > OPEN_COMMAND_TTL_S
