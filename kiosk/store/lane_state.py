"""The tables the scan loop and the web process share on the gate: each lane's device status,
and temperatures a guard typed on the page for a lane's next scan.

The lane process writes ``lane_status`` and consumes ``manual_readings``; the web process
reads the first and adds to the second. Nothing else touches them.
"""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text


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
