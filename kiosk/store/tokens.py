"""API bearer tokens on a gate: the office's key to ``/api/v1``.

A token is a random 32-byte url-safe secret shown once at creation; the gate keeps
only its SHA-256 (a random secret needs no slow hash) and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.store.db import transaction

ROLES = ("office",)
PREFIX = "kt_"


class TokenError(KioskError):
    """A token action was refused (``unknown_token``)."""


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(db: sqlite_utils.Database, role: str, name: str | None, now: datetime) -> tuple[str, str]:
    """Create a token; returns (id, secret). The secret is not stored and cannot be shown again."""
    if role not in ROLES:
        raise ValueError(f"token role must be one of {ROLES}, not {role!r}")
    token_id = "T" + secrets.token_hex(4).upper()
    secret = PREFIX + secrets.token_urlsafe(32)
    db["api_tokens"].insert({"id": token_id, "role": role, "name": name, "token_hash": token_hash(secret),
                             "created_at": utc_text(now), "revoked_at": None, "last_used_at": None})
    return token_id, secret


def list_tokens(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT id, role, name, created_at, revoked_at, last_used_at FROM api_tokens "
                         "ORDER BY created_at, id"))


def revoke_token(db: sqlite_utils.Database, token_id: str, now: datetime) -> None:
    with transaction(db) as conn:
        if not conn.execute("SELECT 1 FROM api_tokens WHERE id = ?", [token_id]).fetchone():
            raise TokenError("unknown_token", f"no token {token_id}")
        conn.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                     [utc_text(now), token_id])


def _record_use(db: sqlite_utils.Database, token: dict, stamp: str) -> None:
    with transaction(db) as conn:
        conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [stamp, token["id"]])
        if token["role"] == "office":
            conn.execute("INSERT OR REPLACE INTO sync_state VALUES ('office_last_contact_utc', ?, ?)",
                         [stamp, stamp])


def authenticate(db: sqlite_utils.Database, secret: str | None, now: datetime) -> dict | None:
    """The token row for a presented secret, or None; records its use and the office's contact.

    Every live token is compared (constant time each) so timing says nothing about which
    hash prefix matched. The record of use is best-effort: on a full disk (or a database
    busy for longer than the timeout) the office must still be able to pull the events off.
    """
    if not secret:
        return None
    presented = token_hash(secret)
    found = None
    for row in db.query("SELECT id, role, name, token_hash FROM api_tokens WHERE revoked_at IS NULL"):
        if hmac.compare_digest(row["token_hash"], presented):
            found = row
    if found is None:
        return None
    try:
        _record_use(db, found, utc_text(now))
    except sqlite3.OperationalError:
        pass  # bookkeeping only: a read never needs a write
    return {key: found[key] for key in ("id", "role", "name")}
