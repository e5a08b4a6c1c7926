"""Office logins for the web page: passwords as salted scrypt hashes, lockout on failures."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.clock import parse_utc, utc_text
from kiosk.guards import LOCKOUT, MAX_FAILURES, GuardError, hash_pin, pin_matches

ROLES = ("office", "supervisor")
MIN_PASSWORD = 8


def add_user(db: sqlite_utils.Database, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise GuardError("bad_role", f"role must be one of {ROLES}")
    if len(password) < MIN_PASSWORD:
        raise GuardError("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    if not name.strip():
        raise GuardError("bad_name", "a user needs a name")
    if db["web_users"].count_where("name = ?", [name]):
        raise GuardError("exists", f"web user {name} exists already")
    db["web_users"].insert({"name": name, "role": role, "password_hash": hash_pin(password),
                            "failed_attempts": 0, "locked_until": None})


def authenticate(db: sqlite_utils.Database, name: str, password: str, now: datetime) -> dict:
    """The user row for a correct password; GuardError wrong_password/locked otherwise."""
    rows = list(db.query("SELECT * FROM web_users WHERE name = ?", [name]))
    if not rows:
        hash_pin(password)  # same time as a real check: don't reveal which names exist
        raise GuardError("wrong_password", "unknown user or wrong password")
    row = rows[0]
    if row["locked_until"] and parse_utc(row["locked_until"]) > now:
        raise GuardError("locked", f"too many wrong passwords: locked until {row['locked_until']}")
    if not pin_matches(password, row["password_hash"]):
        failures = row["failed_attempts"] + 1
        locked = utc_text(now + LOCKOUT) if failures >= MAX_FAILURES else None
        db.conn.execute("UPDATE web_users SET failed_attempts = ?, locked_until = ? WHERE name = ?",
                        [0 if locked else failures, locked, name])
        raise GuardError("locked" if locked else "wrong_password", "unknown user or wrong password")
    db.conn.execute("UPDATE web_users SET failed_attempts = 0, locked_until = NULL WHERE name = ?", [name])
    return {"name": row["name"], "role": row["role"]}
