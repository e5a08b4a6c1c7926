"""The community office: its folder and signing key, registry edits, passes, bundles.

Residents come in through the ledger import (kiosk.office.ledger)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable

import segno
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core import passes
from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.signing import public_key_text
from kiosk.store import registry
from kiosk.store.config import Config, ConfigError, load_config, open_private, write_private
from kiosk.store.db import open_db, transaction
from kiosk.store.keys import generate_signing_key, load_signing_key

SIGNING_KEY = "signing.key"
HEALTH_STATUSES = ("normal", "health_monitoring", "home_isolation", "central_quarantine")


class OfficeError(KioskError):
    """An office action was refused (``unknown_pass``)."""


class Office:
    """An office data folder opened for work."""

    def __init__(self, config: Config, db: sqlite_utils.Database | None = None) -> None:
        if config.role != "office":
            raise ConfigError(f"{config.home} is a {config.role} folder, not an office")
        self.config = config
        self.db = db or open_db(config.db_path, "office")

    @classmethod
    def open(cls, home=None) -> "Office":
        return cls(load_config(home))

    def close(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    def __enter__(self) -> "Office":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def key_path(self) -> Path:
        return self.config.keys_dir / SIGNING_KEY

    def signing_key(self) -> Ed25519PrivateKey:
        return load_signing_key(self.key_path)

    def public_key(self) -> str:
        return public_key_text(self.signing_key().public_key())

    def sites(self) -> list[str]:
        return list(self.config.get("sites") or [self.config["site_id"]])


def init_keys(office: Office) -> str:
    """Create the office signing key (0600) and return the public key line for gates."""
    key = generate_signing_key(office.key_path)
    text = public_key_text(key.public_key())
    (office.config.home / "office-public-key.txt").write_text(text + "\n")
    return text


# --- passes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedPass:
    pass_id: str
    subject_kind: str
    subject_id: str
    token: str


def issue_pass(office: Office, *, subject_kind: str, subject_id: str, site_id: str, now: datetime,
               days: float = 30) -> IssuedPass:
    """Record a new pass and sign its token."""
    pass_id = "P" + secrets.token_hex(5).upper()
    valid_from, valid_until = now.replace(microsecond=0), (now + timedelta(days=days)).replace(microsecond=0)
    token = passes.mint(office.signing_key(), pass_id=pass_id, subject_kind=subject_kind,
                        subject_id=subject_id, site_id=site_id, valid_from=valid_from, valid_until=valid_until)
    office.db["passes"].insert({"id": pass_id, "subject_kind": subject_kind, "subject_id": subject_id,
                                "site_id": site_id, "valid_from": utc_text(valid_from),
                                "valid_until": utc_text(valid_until), "status": "active", "reason": None})
    return IssuedPass(pass_id, subject_kind, subject_id, token)


def set_pass_status(office: Office, pass_id: str, status: str, reason: str = "") -> None:
    if status not in ("active", "revoked", "blocked"):
        raise ValueError("status must be active, revoked or blocked")
    if not office.db["passes"].count_where("id = ?", [pass_id]):
        raise OfficeError("unknown_pass", f"no pass {pass_id}")
    office.db["passes"].update(pass_id, {"status": status, "reason": reason or None})


def write_qr(token: str, out: Path, fmt: str = "png", scale: int = 8) -> Path:
    """Write a pass QR image (error correction M) as PNG or SVG."""
    if fmt not in ("png", "svg"):
        raise ValueError("format must be png or svg")
    with open_private(out, "wb") as handle:  # the image is the pass: a bearer credential
        segno.make(token, error="m", micro=False, boost_error=False).save(handle, kind=fmt, scale=scale, border=4)
    return out


def subjects(office: Office, site_id: str, kinds: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, id) of every resident and vehicle of a site, for issuing passes in bulk."""
    result = []
    if "resident" in kinds:
        result += [("resident", r["id"]) for r in office.db.query(
            "SELECT p.id FROM persons p JOIN households h ON p.household_id = h.id WHERE h.site_id = ? ORDER BY p.id",
            [site_id])]
    if "vehicle" in kinds:
        result += [("vehicle", r["plate"]) for r in office.db.query(
            "SELECT v.plate FROM vehicles v JOIN households h ON v.household_id = h.id WHERE h.site_id = ? "
            "ORDER BY v.plate", [site_id])]
    return result


# --- bundles ---------------------------------------------------------------------------

def write_bundle(office: Office, site_id: str, now: datetime, out: Path) -> tuple[int, Path]:
    """Write the next version of a site's signed registry bundle."""
    with transaction(office.db) as conn:
        version = (conn.execute("SELECT max(version) FROM registry_versions").fetchone()[0] or 0) + 1
        conn.execute("INSERT INTO registry_versions VALUES (?, ?, ?)", [version, site_id, utc_text(now)])
    data = registry.build_bundle(
        office.signing_key(), site_id=site_id, version=version, issued=now,
        tables=registry.registry_snapshot(office.db, site_id),
        settings=office.config.get("registry_settings", {}), trusted_keys=[office.public_key()])
    write_private(out, data)  # names, phones and health status
    return version, out
