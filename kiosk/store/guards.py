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
MAX_ID_LENGTH = 64
UNKNOWN_MEMORY = timedelta(days=1)


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


MIN_PIN = {"guard": 4, "supervisor": 6}  # a supervisor's PIN overrides fever and isolation refusals


def validate_pin(pin: str, role: str = "guard") -> None:
    shortest = MIN_PIN.get(role, 4)
    if not (pin.isascii() and pin.isdigit() and shortest <= len(pin) <= 12):
        raise GuardError("bad_pin_format", f"a {role}'s PIN is {shortest} to 12 digits")


def short_supervisor_pin(guard: "Guard", pin: str) -> bool:
    """A supervisor PIN set before supervisors needed 6 digits: it still signs on, but approves
    nothing until changed (``kiosk guard set-pin``)."""
    return guard.role == "supervisor" and len(pin) < MIN_PIN["supervisor"]


def add_guard(db: sqlite_utils.Database, guard_id: str, name: str, pin: str,
              organisation: str = "", role: str = "guard") -> None:
    if role not in ROLES:
        raise GuardError("bad_role", f"role must be one of {ROLES}")
    validate_pin(pin, role)
    if db["guards"].count_where("id = ?", [guard_id]):
        raise GuardError("exists", f"guard {guard_id} exists already")
    db["guards"].insert({"id": guard_id, "name": name, "organisation": organisation, "role": role,
                         "pin_hash": hash_pin(pin), "failed_attempts": 0, "locked_until": None,
                         "active": 1})


def set_pin(db: sqlite_utils.Database, guard_id: str, pin: str) -> None:
    """Give a guard a new PIN (and lift any lockout: the supervisor's unlock)."""
    rows = list(db.query("SELECT role FROM guards WHERE id = ?", [guard_id]))
    if not rows:
        raise GuardError("unknown_guard", f"no guard {guard_id}")
    validate_pin(pin, rows[0]["role"])
    db.conn.execute("UPDATE guards SET pin_hash = ?, failed_attempts = 0, locked_until = NULL WHERE id = ?",
                    [hash_pin(pin), guard_id])


def unlock(db: sqlite_utils.Database, guard_id: str) -> None:
    """Lift a guard's lockout at once (a supervisor's decision, at the gate's command line)."""
    if not db.conn.execute("UPDATE guards SET failed_attempts = 0, locked_until = NULL WHERE id = ?",
                           [guard_id]).rowcount:
        raise GuardError("unknown_guard", f"no guard {guard_id}")


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
    if len(key) > MAX_ID_LENGTH:
        key = key[:MAX_ID_LENGTH] + "…"  # no real id is this long: counted as one unknown id
    # Count the attempt as a failure before checking it, in one write transaction: concurrent
    # attempts cannot all read the same count, so a burst gets MAX_FAILURES guesses, no more.
    with transaction(db) as conn:
        rows = list(db.query(f"SELECT * FROM {table} WHERE {key_column} = ?{active}", [key]))
        if rows and not _locked(rows[0], now):
            conn.execute(f"UPDATE {table} SET failed_attempts = failed_attempts + 1 WHERE {key_column} = ?", [key])
    if not rows:
        _unknown_failure(db, f"{table}:{key}", now, wrong, who, what)
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


def _unknown_failure(db: sqlite_utils.Database, key: str, now: datetime, wrong: str, who: str, what: str):
    """An unknown id fails exactly as a real one with a wrong secret: counted, locked on the
    MAX_FAILURES-th failure for LOCKOUT, and as slow; so answers reveal no ids. Kept by
    digest (any length costs the same) and forgotten after a day."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    with transaction(db) as conn:
        conn.execute("DELETE FROM unknown_logins WHERE last_utc < ?", [utc_text(now - UNKNOWN_MEMORY)])
        row = conn.execute("SELECT failed_attempts, locked_until FROM unknown_logins WHERE key_sha256 = ?",
                           [digest]).fetchone()
        if row and _locked({"locked_until": row[1]}, now):
            raise GuardError("locked", f"too many wrong {what}s: locked until {row[1]}")
        failures = (row[0] if row else 0) + 1
        locked = utc_text(now + LOCKOUT) if failures >= MAX_FAILURES else None
        conn.execute("INSERT INTO unknown_logins VALUES (?, ?, ?, ?) ON CONFLICT (key_sha256) DO UPDATE SET "
                     "failed_attempts = excluded.failed_attempts, locked_until = excluded.locked_until, "
                     "last_utc = excluded.last_utc",
                     [digest, 0 if locked else failures, locked, utc_text(now)])
    hash_pin("0" * 6)  # spend the same time as a real check
    if locked:
        raise GuardError("locked", f"too many wrong {what}s: locked for 5 minutes")
    raise GuardError(wrong, f"unknown {who} or wrong {what}")


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
