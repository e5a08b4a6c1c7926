"""A shift's log read from the events of that shift (the gate's ``events`` or the office's ``gate_events``)."""

from __future__ import annotations

import sqlite_utils

from kiosk.core.shifts import ShiftRef, summarise


def shift_log(db: sqlite_utils.Database, ref: ShiftRef, table: str = "events") -> dict:
    events = list(db.query(f"SELECT * FROM {table} WHERE shift_id = ? ORDER BY ts_utc, seq", [ref.id]))
    return {"shift_id": ref.id, "date": ref.date.isoformat(), "key": ref.shift.key,
            "name_zh": ref.name_zh, "name_en": ref.name_en,
            "start": ref.start.isoformat(), "end": ref.end.isoformat(), **summarise(events)}
