"""Alerts for the office: fevers, isolated persons at the exit, bad passes, overrides."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.codes import codes_with

ALERT_CODES = codes_with(office_alert=True)


class AlertError(ValueError):
    pass


def alert_where() -> tuple[str, list]:
    """SQL for "event ``e`` is an alert" (the gate's events or the office's gate_events)."""
    marks = ",".join("?" for _ in ALERT_CODES)
    return (f"(e.kind = 'override' OR EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value IN ({marks})))",
            list(ALERT_CODES))


def alerts(db: sqlite_utils.Database, unacknowledged_only: bool = False, limit: int = 200) -> list[dict]:
    """Alert events, newest first, each with its acknowledgement (or None) and, for a fever
    re-measurement, the first fever reading (``first_temperature``)."""
    where, params = alert_where()
    if unacknowledged_only:
        where += " AND a.event_id IS NULL"
    return list(db.query(
        f"SELECT e.*, json_extract(e.data, '$.remeasure_of.temperature') AS first_temperature, "
        f"a.acked_by, a.note AS ack_note, a.acked_at FROM events e "
        f"LEFT JOIN alert_acks a ON a.event_id = e.id WHERE {where} ORDER BY e.seq DESC LIMIT ?",
        [*params, limit]))


def acknowledge(db: sqlite_utils.Database, event_id: str, by: str, note: str, now: datetime,
                table: str = "events") -> None:
    """Record an acknowledgement; ``table`` is ``gate_events`` on the office."""
    where, params = alert_where()
    if not db.conn.execute(f"SELECT 1 FROM {table} e WHERE e.id = ? AND {where}", [event_id, *params]).fetchone():
        raise AlertError(f"no alert {event_id!r}")
    db["alert_acks"].upsert({"event_id": event_id, "acked_by": by, "note": note.strip(),
                             "acked_at": utc_text(now)}, pk="event_id")
