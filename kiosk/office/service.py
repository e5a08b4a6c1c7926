"""The community office: its folder and signing key, registry edits, passes, bundles.

Residents come in through the ledger import (kiosk.office.ledger)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable

import segno
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core import passes
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.errors import KioskError
from kiosk.core.i18n import t
from kiosk.core.signing import key_id, public_key_text
from kiosk.office import photos
from kiosk.store import registry
from kiosk.store.config import Config, ConfigError, load_config, open_private, write_private
from kiosk.store.db import open_db, transaction
from kiosk.store.keys import generate_signing_key, load_signing_key
from kiosk.store.office_store import OfficeStore, open_office_store

SIGNING_KEY = "signing.key"
HEALTH_STATUSES = ("normal", "health_monitoring", "home_isolation", "central_quarantine")


class OfficeError(KioskError):
    """An office action was refused (``unknown_pass``, ``unknown_subject``, ``subject_other_site``, ...)."""


class Office:
    """An office data folder opened for work."""

    def __init__(self, config: Config, db: sqlite_utils.Database | None = None) -> None:
        if config.role != "office":
            raise ConfigError(f"{config.home} is a {config.role} folder, not an office")
        self.config = config
        self.db = db or open_db(config.db_path, "office")  # registry, ledger, pass book: always SQLite
        self._store: OfficeStore | None = None

    @property
    def store(self) -> OfficeStore:
        """Gates, their events, web logins (kiosk.store.office_store): opened on first use, so the
        registry's commands go on while a district's PostgreSQL server is away."""
        if self._store is None:
            if self.db is None:
                raise ValueError("the office is closed")
            self._store = open_office_store(self.config, self.db)
        return self._store

    @classmethod
    def open(cls, home=None) -> "Office":
        return cls(load_config(home))

    def close(self) -> None:
        if self._store is not None and self._store is not self.db:
            self._store.close()
        self._store = None
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

    def check_site(self, site_id: str) -> None:
        if site_id not in self.sites():
            raise OfficeError("unknown_site", t("passes.unknown_site", site=site_id, sites=", ".join(self.sites())))


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


# Where each kind of subject lives, and the compound of its household.
_SUBJECT_SITE = {
    "resident": "SELECT h.site_id FROM persons p LEFT JOIN households h ON p.household_id = h.id WHERE p.id = ?",
    "vehicle": "SELECT h.site_id FROM vehicles v LEFT JOIN households h ON v.household_id = h.id WHERE v.plate = ?",
    "visitor": "SELECT h.site_id FROM visitors v LEFT JOIN households h ON v.household_id = h.id WHERE v.id = ?",
}


def check_subject(office: Office, subject_kind: str, subject_id: str, site_id: str) -> None:
    """OfficeError unless the subject is in the registry and lives at ``site_id``: a pass names someone."""
    office.check_site(site_id)
    if subject_kind not in _SUBJECT_SITE:
        raise OfficeError("unknown_subject", t("passes.bad_kind", kind=subject_kind))
    rows = office.db.conn.execute(_SUBJECT_SITE[subject_kind], [subject_id]).fetchall()
    if not rows:
        raise OfficeError("unknown_subject", t("passes.unknown_subject", kind=t(f"passes.kind.{subject_kind}"),
                                               subject=subject_id))
    if rows[0][0] != site_id:
        raise OfficeError("subject_other_site", t("passes.subject_other_site", subject=subject_id,
                                                  site=rows[0][0] or "-", wanted=site_id))


def issue_pass(office: Office, *, subject_kind: str, subject_id: str, site_id: str, now: datetime,
               days: float = 30, replace: bool = False) -> IssuedPass:
    """Record a new pass for a registered subject and sign its token.

    ``replace``: the subject's earlier passes are revoked in the same transaction (a reissue),
    so there is never a moment with two passes or none.
    """
    check_subject(office, subject_kind, subject_id, site_id)
    pass_id = "P" + secrets.token_hex(5).upper()
    valid_from, valid_until = now.replace(microsecond=0), (now + timedelta(days=days)).replace(microsecond=0)
    try:
        token = passes.mint(office.signing_key(), pass_id=pass_id, subject_kind=subject_kind,
                            subject_id=subject_id, site_id=site_id, valid_from=valid_from, valid_until=valid_until)
    except passes.PassFormatError as exc:
        raise OfficeError("cannot_issue", t("passes.cannot_issue", subject=subject_id, detail=exc)) from exc
    with transaction(office.db) as conn:
        if replace:
            conn.execute("UPDATE passes SET status = 'revoked', reason = ? WHERE subject_kind = ? AND subject_id = ? "
                         "AND status != 'revoked'", [f"reissued as {pass_id}", subject_kind, subject_id])
        office.db["passes"].insert({"id": pass_id, "subject_kind": subject_kind, "subject_id": subject_id,
                                    "site_id": site_id, "valid_from": utc_text(valid_from),
                                    "valid_until": utc_text(valid_until), "status": "active", "reason": None})
    return IssuedPass(pass_id, subject_kind, subject_id, token)


def token_of(office: Office, row: dict) -> str:
    """A recorded pass's token, signed again with the current key (Ed25519 signatures are
    deterministic: unchanged while the key is; after a rotation, a new token for the same pass)."""
    return passes.mint(office.signing_key(), pass_id=row["id"], subject_kind=row["subject_kind"],
                       subject_id=row["subject_id"], site_id=row["site_id"],
                       valid_from=parse_utc(row["valid_from"]), valid_until=parse_utc(row["valid_until"]))


def set_pass_status(office: Office, pass_id: str, status: str, reason: str = "") -> None:
    if status not in ("active", "revoked", "blocked"):
        raise ValueError("status must be active, revoked or blocked")
    if not office.db["passes"].count_where("id = ?", [pass_id]):
        raise OfficeError("unknown_pass", f"no pass {pass_id}")
    office.db["passes"].update(pass_id, {"status": status, "reason": reason or None})


def unblock_pass(office: Office, pass_id: str) -> None:
    """Lift a block. A revoked pass stays revoked: reissue one instead."""
    rows = list(office.db.query("SELECT status FROM passes WHERE id = ?", [pass_id]))
    if not rows:
        raise OfficeError("unknown_pass", f"no pass {pass_id}")
    if rows[0]["status"] != "blocked":
        raise OfficeError("not_blocked", t("passes.not_blocked", pass_id=pass_id, status=rows[0]["status"]))
    office.db["passes"].update(pass_id, {"status": "active", "reason": None})


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
    carried = carried_keys(office, now)
    tables = registry.registry_snapshot(office.db, site_id)
    settings = office.config.get("registry_settings", {})
    with_photos = site_id not in office.config.get("sites_without_photos", [])  # a compound's choice
    data = registry.build_bundle(
        office.signing_key(), site_id=site_id, version=version, issued=now, tables=tables,
        settings=settings if with_photos else {**settings, "photos": False},
        trusted_keys=[office.public_key(), *(public_key_text(key.public_key()) for key in carried)],
        endorsing_keys=tuple(carried),
        photos=photos.site_photos(office.db, tables["persons"]) if with_photos else {})
    write_private(out, data)  # names, phones, health status and photos
    return version, out


# --- key rotation ----------------------------------------------------------------------

RETIRED_KEYS = "retired"


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    new_public_key: str
    carry_until: str  # the old key is carried in bundles until then


def rotate_key(office: Office, now: datetime) -> Rotation:
    """Make a new signing key; the old one signs no more passes but is carried in bundles (and
    endorses them, so gates that trust only it learn the new key) until its passes have expired."""
    old = office.signing_key()
    old_id = key_id(old.public_key())
    last = office.db.conn.execute("SELECT max(valid_until) FROM passes WHERE status != 'revoked'").fetchone()[0]
    carry_until = max(last or utc_text(now), utc_text(now))
    retired = office.config.keys_dir / RETIRED_KEYS / f"signing-{old_id}.key"
    retired.parent.mkdir(mode=0o700, exist_ok=True)
    os.replace(office.key_path, retired)
    try:  # the key files and their records change together: on any failure the old key is back
        with transaction(office.db):
            new_text = init_keys(office)
            office.db.conn.execute(
                "INSERT INTO signing_keys VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET "
                "retired_utc = excluded.retired_utc, carry_until = excluded.carry_until",
                [old_id, public_key_text(old.public_key()), utc_text(now), utc_text(now), carry_until])
            office.db["signing_keys"].insert({"key_id": new_text.split(":")[1], "public_key": new_text,
                                              "created_utc": utc_text(now)})
    except BaseException:
        office.key_path.unlink(missing_ok=True)
        os.replace(retired, office.key_path)
        (office.config.home / "office-public-key.txt").write_text(public_key_text(old.public_key()) + "\n")
        raise
    return Rotation(old_id, new_text.split(":")[1], new_text, carry_until)


def carried_keys(office: Office, now: datetime) -> list[Ed25519PrivateKey]:
    """Retired keys whose passes may still be valid (newest first)."""
    rows = office.db.query("SELECT key_id FROM signing_keys WHERE carry_until > ? ORDER BY retired_utc DESC",
                           [utc_text(now)])
    paths = (office.config.keys_dir / RETIRED_KEYS / f"signing-{row['key_id']}.key" for row in rows)
    return [load_signing_key(path) for path in paths if path.exists()]
