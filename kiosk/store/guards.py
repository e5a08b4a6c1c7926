"""Guards on duty: PINs stored with salted scrypt, lockout after repeated failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.errors import KioskError
from kiosk.store.db import transaction

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=5)
ROLES = ("guard", "supervisor")


class GuardError(KioskError):
    """A guard action was refused (e.g. ``wrong_pin``, ``locked``)."""


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "scrypt${}${}${}${}${}".format(SCRYPT_N, SCRYPT_R, SCRYPT_P,
                                         base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def pin_matches(pin: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                   p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def validate_pin(pin: str) -> None:
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise GuardError("bad_pin_format", "a PIN is 4 to 12 digits")


def add_guard(db: sqlite_utils.Database, guard_id: str, name: str, pin: str,
              organisation: str = "", role: str = "guard") -> None:
    if role not in ROLES:
        raise GuardError("bad_role", f"role must be one of {ROLES}")
    validate_pin(pin)
    if db["guards"].count_where("id = ?", [guard_id]):
        raise GuardError("exists", f"guard {guard_id} exists already")
    db["guards"].insert({"id": guard_id, "name": name, "organisation": organisation, "role": role,
                         "pin_hash": hash_pin(pin), "failed_attempts": 0, "locked_until": None,
                         "active": 1})


@dataclass(frozen=True)
class Guard:
    id: str
    name: str
    organisation: str
    role: str


def known_id(db: sqlite_utils.Database, typed: str) -> str:
    """The guard id as stored, for an id typed in any case (g001 -> G001); else the typed text."""
    typed = typed.strip()
    row = db.conn.execute("SELECT id FROM guards WHERE id = ? COLLATE NOCASE ORDER BY id = ? DESC LIMIT 1",
                          [typed, typed]).fetchone()
    return row[0] if row else typed


def authenticate(db: sqlite_utils.Database, guard_id: str, pin: str, now: datetime) -> Guard:
    """Check a guard's PIN (the id in any case); count failures and lock the guard out after too many."""
    row = check_secret(db, "guards", "id", known_id(db, guard_id), pin, "pin_hash", now, active_only=True)
    return Guard(row["id"], row["name"], row["organisation"] or "", row["role"])


def check_secret(db: sqlite_utils.Database, table: str, key_column: str, key: str, secret: str,
                 hash_column: str, now: datetime, who: str = "guard", what: str = "PIN",
                 active_only: bool = False) -> dict:
    """The row whose salted hash matches ``secret``; failures are counted and lock it out.

    Shared by guards (PIN) and web logins (password): tables with ``failed_attempts`` and
    ``locked_until`` columns. GuardError codes: ``wrong_pin``/``wrong_password``, ``locked``.
    """
    wrong = f"wrong_{what.lower()}"
    active = " AND active = 1" if active_only else ""
    # Count the attempt as a failure before checking it, in one write transaction: concurrent
    # attempts cannot all read the same count, so a burst gets MAX_FAILURES guesses, no more.
    with transaction(db) as conn:
        rows = list(db.query(f"SELECT * FROM {table} WHERE {key_column} = ?{active}", [key]))
        if rows and not _locked(rows[0], now):
            conn.execute(f"UPDATE {table} SET failed_attempts = failed_attempts + 1 WHERE {key_column} = ?", [key])
    if not rows:
        hash_pin(secret)  # spend the same time as a real check: don't reveal which ids exist
        raise GuardError(wrong, f"unknown {who} or wrong {what}")
    row = rows[0]
    failures = row["failed_attempts"] + 1
    if _locked(row, now) or failures > MAX_FAILURES:
        raise GuardError("locked", f"too many wrong {what}s: locked until {row['locked_until'] or 'later'}")
    if not pin_matches(secret, row[hash_column]):
        if failures < MAX_FAILURES:
            raise GuardError(wrong, f"unknown {who} or wrong {what}")
        db.conn.execute(f"UPDATE {table} SET failed_attempts = 0, locked_until = ? WHERE {key_column} = ?",
                        [utc_text(now + LOCKOUT), key])
        raise GuardError("locked", f"too many wrong {what}s: locked for 5 minutes")
    db.conn.execute(f"UPDATE {table} SET failed_attempts = 0, locked_until = NULL WHERE {key_column} = ?", [key])
    return row


def _locked(row: dict, now: datetime) -> bool:
    return bool(row["locked_until"]) and parse_utc(row["locked_until"]) > now


def on_duty(db: sqlite_utils.Database, lane: str | None) -> str | None:
    """The guard signed on at this lane (or, failing that, at any lane), if any."""
    row = db.conn.execute(
        "SELECT guard_id FROM duty WHERE off_utc IS NULL ORDER BY (lane = ?) DESC, on_utc DESC LIMIT 1",
        [lane or ""]).fetchone()
    return row[0] if row else None


def open_duty(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM duty WHERE off_utc IS NULL ORDER BY on_utc"))
