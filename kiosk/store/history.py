"""The gate's recent history as the access rules read it (passback, duplicates, household quota)."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.event_kinds import kinds_with
from kiosk.core.rules import PASSAGES
from kiosk.store import movements

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
        return movements.last_passage(self.db.conn, subject_kind, subject_id)

    def household_exits_since(self, household_id: str, since: datetime, until: datetime) -> set[str]:
        """Ids of household members who went out between ``since`` and ``until`` (now)."""
        return movements.household_exits(self.db.conn, household_id, since, until)

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
