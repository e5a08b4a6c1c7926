"""Office logins for the web page: passwords as salted scrypt hashes, lockout on failures."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from kiosk.store.db import transaction
from kiosk.store.guards import GuardError, check_secret, hash_pin

# The roles each folder's web_users table allows: a gate's office login may be a supervisor;
# the office's own page has readers (viewer) beside the office staff who acknowledge alerts.
ROLES = ("office", "supervisor")
OFFICE_ROLES = ("office", "viewer")
ROLES_BY_FOLDER = {"gate": ROLES, "office": OFFICE_ROLES}
MIN_PASSWORD = 8


def add_user(db: sqlite_utils.Database, name: str, role: str, password: str, folder: str = "gate") -> None:
    if role not in ROLES_BY_FOLDER[folder]:
        raise GuardError("bad_role", f"role must be one of {ROLES_BY_FOLDER[folder]}")
    if len(password) < MIN_PASSWORD:
        raise GuardError("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    if not name.strip():
        raise GuardError("bad_name", "a user needs a name")
    if db["web_users"].count_where("name = ?", [name]):
        raise GuardError("exists", f"web user {name} exists already")
    db["web_users"].insert({"name": name, "role": role, "password_hash": hash_pin(password),
                            "failed_attempts": 0, "locked_until": None})


def authenticate(db: sqlite_utils.Database, name: str, password: str, now: datetime) -> dict:
    """The user (name, role) for a correct password; GuardError wrong_password/locked otherwise."""
    row = check_secret(db, "web_users", "name", name, password, "password_hash", now, who="user", what="password")
    return {"name": row["name"], "role": row["role"]}


def remove_user(db: sqlite_utils.Database, name: str) -> None:
    """Remove a login; its sessions end with it (they are checked against this table)."""
    if not db["web_users"].count_where("name = ?", [name]):
        raise GuardError("unknown_user", f"no web user {name}")
    with transaction(db) as conn:
        conn.execute("DELETE FROM web_sessions WHERE user_name = ?", [name])
        conn.execute("DELETE FROM web_users WHERE name = ?", [name])
