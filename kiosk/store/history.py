"""The gate's recent history as the access rules read it (passback, duplicates, household quota)."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.event_kinds import kinds_with
from kiosk.core.rules import NOT_MEMBERS, PASSAGES

PASS_CHECKS = kinds_with(pass_check=True)


def _first(db: sqlite_utils.Database, sql: str, params: list) -> dict | None:
    """The first row as a dict; straight through sqlite3 (a decision makes several of these lookups)."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip([column[0] for column in cursor.description], row)) if row else None


class EventHistory:
    """Recent recorded events of the gate's log, as the rules see them (kiosk.core.rules.History)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def last_scan_of_pass(self, pass_id: str) -> dict | None:
        return _first(self.db, f"SELECT * FROM events WHERE pass_id = ? AND kind IN "
                               f"({','.join('?' for _ in PASS_CHECKS)}) ORDER BY seq DESC LIMIT 1",
                      [pass_id, *PASS_CHECKS])

    def last_passage(self, subject_kind: str, subject_id: str) -> dict | None:
        marks = ",".join("?" for _ in PASSAGES)
        # a vehicle passes with its driver (the event's subject): its passages are found by plate
        who, params = ("plate = ?", [subject_id]) if subject_kind == "vehicle" else \
            ("subject_kind = ? AND subject_id = ?", [subject_kind, subject_id])
        return _first(self.db, f"SELECT * FROM events WHERE {who} AND outcome = 'allow' "
                               f"AND kind IN ({marks}) ORDER BY seq DESC LIMIT 1", [*params, *PASSAGES])

    def household_exits_since(self, household_id: str, since: datetime) -> set[str]:
        """Ids of household members who went out since ``since``."""
        marks = ",".join("?" for _ in PASSAGES)
        rows = self.db.query(
            f"SELECT DISTINCT subject_id FROM events WHERE household_id = ? AND direction = 'out' "
            f"AND outcome = 'allow' AND subject_kind NOT IN (?, ?) AND ts_utc >= ? AND kind IN ({marks})",
            [household_id, *NOT_MEMBERS, utc_text(since), *PASSAGES])
        return {row["subject_id"] for row in rows}

    def open_fever_refusal(self, subject_kind: str, subject_id: str, since: datetime) -> dict | None:
        """The subject's latest refusal for fever since ``since`` not followed by an allowed passage
        (an override or an allowed re-measurement settles it)."""
        checks, marks = PASS_CHECKS, ",".join("?" for _ in PASSAGES)
        return _first(self.db,
            f"SELECT * FROM events e WHERE subject_kind = ? AND subject_id = ? AND ts_utc >= ? "
            f"AND outcome IN ('deny', 'refer') AND kind IN ({','.join('?' for _ in checks)}) "
            f"AND EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value = 'fever') "
            f"AND NOT EXISTS (SELECT 1 FROM events later WHERE later.seq > e.seq AND later.outcome = 'allow' "
            f"AND later.subject_kind = e.subject_kind AND later.subject_id = e.subject_id "
            f"AND later.kind IN ({marks})) ORDER BY seq DESC LIMIT 1",
            [subject_kind, subject_id, utc_text(since), *checks, *PASSAGES])
