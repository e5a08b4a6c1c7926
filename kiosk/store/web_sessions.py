"""Office logins' sessions, kept on the gate: a cookie is only as good as its record here.

The signed cookie carries a random session id; the server keeps its SHA-256, the user and
an expiry. Logging out revokes the record, removing the user (``kiosk web-user remove``)
ends every session of that user at once (the role is read from ``web_users`` on every
request, never from the cookie), and a record expires after ``LIFETIME`` whatever happens.
Guards need no record of their own: their cookie names the duty row, which sign-off closes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlite_utils

from kiosk.core.clock import utc_text

LIFETIME = timedelta(hours=12)  # one working day; then the office signs in again


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(db: sqlite_utils.Database, name: str, now: datetime) -> str:
    """A new session for web user ``name``; returns the id for the cookie (not stored as such)."""
    session_id = secrets.token_urlsafe(32)
    db.conn.execute("DELETE FROM web_sessions WHERE expires_utc <= ? OR revoked_utc IS NOT NULL", [utc_text(now)])
    db.conn.execute("INSERT INTO web_sessions (id_sha256, user_name, created_utc, expires_utc) VALUES (?, ?, ?, ?)",
                    [_digest(session_id), name, utc_text(now), utc_text(now + LIFETIME)])
    return session_id


def session_user(db: sqlite_utils.Database, session_id: str | None, now: datetime) -> dict | None:
    """{name, role} of a live session's user (who still exists), else None."""
    if not isinstance(session_id, str) or not session_id:
        return None
    row = db.conn.execute(
        "SELECT u.name, u.role FROM web_sessions s JOIN web_users u ON u.name = s.user_name "
        "WHERE s.id_sha256 = ? AND s.revoked_utc IS NULL AND s.expires_utc > ?",
        [_digest(session_id), utc_text(now)]).fetchone()
    return {"name": row[0], "role": row[1]} if row else None


def revoke(db: sqlite_utils.Database, session_id: str | None, now: datetime) -> None:
    if isinstance(session_id, str):
        db.conn.execute("UPDATE web_sessions SET revoked_utc = ? WHERE id_sha256 = ? AND revoked_utc IS NULL",
                        [utc_text(now), _digest(session_id)])
