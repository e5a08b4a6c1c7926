"""The community office: signing key, registry edits, ledger import, passes, bundles."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import segno
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core import passes
from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.signing import generate_signing_key, load_signing_key, public_key_text
from kiosk.store import registry
from kiosk.store.config import Config, ConfigError, load_config
from kiosk.store.db import open_db, transaction

SIGNING_KEY = "signing.key"
HEALTH_STATUSES = ("normal", "health_monitoring", "home_isolation", "central_quarantine")
# Ledger columns and the Chinese headers accepted for them.
LEDGER_COLUMNS = {
    "id": ("id", "编号", "人员编号"), "name": ("name", "姓名"), "phone": ("phone", "电话", "手机"),
    "building": ("building", "楼栋", "楼号"), "unit": ("unit", "单元"), "room": ("room", "房号", "室"),
    "plate": ("plate", "车牌", "车牌号"), "health": ("health", "健康状态"),
    "health_until": ("health_until", "截止日期"), "cadre_name": ("cadre_name", "负责干部"),
    "cadre_phone": ("cadre_phone", "干部电话"),
}
REQUIRED = ("id", "name", "building", "unit", "room")
HEALTH_ALIASES = {"正常": "normal", "健康监测": "health_monitoring", "居家隔离": "home_isolation",
                  "集中隔离": "central_quarantine"}


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


# --- ledger import ---------------------------------------------------------------------

@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_ledger(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs from a CSV (UTF-8, with or without BOM) or XLSX ledger."""
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:  # a read-only workbook keeps its file open until closed
            rows = [["" if v is None else str(v).strip() for v in row] for row in book.active.iter_rows(values_only=True)]
        finally:
            book.close()
    else:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    if not rows:
        return []
    header = [_column_for(h) for h in rows[0]]
    return [(number, {h: (v or "").strip() for h, v in zip(header, row) if h})
            for number, row in enumerate(rows[1:], start=2) if any((v or "").strip() for v in row)]


def _column_for(header: str | None) -> str | None:
    text = (header or "").strip().lower()
    return next((name for name, aliases in LEDGER_COLUMNS.items() if text in aliases), None)


def _row_problem(row: dict[str, str]) -> str | None:
    missing = [c for c in REQUIRED if not row.get(c)]
    if missing:
        return "missing " + ", ".join(missing)
    health = HEALTH_ALIASES.get(row.get("health", ""), row.get("health") or "normal")
    if health not in HEALTH_STATUSES:
        return f"unknown health status {row.get('health')!r}"
    if row.get("health_until"):
        try:
            datetime.fromisoformat(row["health_until"])
        except ValueError:
            return f"health_until {row['health_until']!r} is not a date (YYYY-MM-DD)"
    return None


def import_ledger(office: Office, path: Path, site_id: str, now: datetime, strict: bool = False) -> ImportReport:
    """Import residents; every bad row is reported with its line number.

    With ``strict`` nothing is imported when any row is bad.
    """
    report = ImportReport()
    rows = read_ledger(path)
    seen: set[str] = set()
    good = []
    for number, row in rows:
        problem = _row_problem(row) or (f"duplicate id {row['id']}" if row["id"] in seen else None)
        if problem:
            report.errors.append((number, problem))
            continue
        seen.add(row["id"])
        good.append(row)
    if strict and report.errors:
        return report
    with transaction(office.db):
        for row in good:
            _upsert_resident(office.db, row, site_id, now, office.config["timezone"])
    report.imported = len(good)
    return report


def _end_of_day(day: str, tz_name: str) -> str:
    """A ledger deadline (截止日期) is inclusive: the measure ends when that local day ends."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz_name))
    return utc_text(start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


def _upsert_resident(db: sqlite_utils.Database, row: dict[str, str], site_id: str, now: datetime,
                     tz_name: str) -> None:
    household_id = f"{site_id}:{row['building']}-{row['unit']}-{row['room']}"
    db["households"].upsert({"id": household_id, "site_id": site_id, "building": row["building"],
                             "unit": row["unit"], "room": row["room"]}, pk="id")
    db["persons"].upsert({"id": row["id"], "name": row["name"], "household_id": household_id,
                          "phone": row.get("phone") or None}, pk="id")
    if row.get("plate"):
        db["vehicles"].upsert({"plate": registry.normalise_plate(row["plate"]), "household_id": household_id,
                               "note": None}, pk="plate")
    health = HEALTH_ALIASES.get(row.get("health", ""), row.get("health") or "normal")
    until = row.get("health_until")
    db["health"].upsert({"person_id": row["id"], "status": health, "since": utc_text(now),
                         "until": _end_of_day(until, tz_name) if until else None,
                         "cadre_name": row.get("cadre_name") or None,
                         "cadre_phone": row.get("cadre_phone") or None}, pk="person_id")


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
    segno.make(token, error="m", micro=False, boost_error=False).save(str(out), kind=fmt, scale=scale, border=4)
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
    out.write_bytes(data)
    return version, out
