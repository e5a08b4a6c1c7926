"""The office's own security log: failed logins on its page (an office folder has no event log).

Shown to office users on the page's security view; the newest first, a bounded page.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text

SECURITY_LOG_SQL = """
CREATE TABLE office_security_log (
    id INTEGER PRIMARY KEY, ts_utc TEXT NOT NULL, kind TEXT NOT NULL, who TEXT, source TEXT, code TEXT
);
CREATE INDEX office_security_log_time ON office_security_log(ts_utc);
"""
RECENT = 200


def record_failed_login(db: sqlite_utils.Database, now: datetime, who: str, source: str, code: str) -> None:
    """Record a refused login; a database that cannot write (a full disk) still refuses, unrecorded."""
    try:
        db.conn.execute("INSERT INTO office_security_log (ts_utc, kind, who, source, code) VALUES (?, ?, ?, ?, ?)",
                        [utc_text(now), "login_failed", who, source, code])
    except sqlite3.Error:
        pass


def recent(db: sqlite_utils.Database, limit: int = RECENT) -> list[dict]:
    return list(db.query("SELECT * FROM office_security_log ORDER BY ts_utc DESC, id DESC LIMIT ?", [limit]))
