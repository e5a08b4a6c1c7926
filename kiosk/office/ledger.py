"""Residents from the community's ledger (台账): CSV or XLSX, Chinese headers accepted."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.plates import normalise_plate
from kiosk.office.service import HEALTH_STATUSES, Office, OfficeError
from kiosk.store.db import transaction

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


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_ledger(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs from a CSV (UTF-8, with or without BOM) or XLSX ledger."""
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        try:  # openpyxl parses with defusedxml: entity bombs and external entities are refused
            with path.open("rb") as handle:  # closed even when openpyxl gives up half-way
                book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
                rows = [["" if v is None else str(v).strip() for v in row]
                        for row in book.active.iter_rows(values_only=True)]
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise OfficeError("unreadable_ledger", f"{path} is not a readable XLSX workbook: {exc}") from None
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
        db["vehicles"].upsert({"plate": normalise_plate(row["plate"]), "household_id": household_id,
                               "note": None}, pk="plate")
    health = HEALTH_ALIASES.get(row.get("health", ""), row.get("health") or "normal")
    until = row.get("health_until")
    db["health"].upsert({"person_id": row["id"], "status": health, "since": utc_text(now),
                         "until": _end_of_day(until, tz_name) if until else None,
                         "cadre_name": row.get("cadre_name") or None,
                         "cadre_phone": row.get("cadre_phone") or None}, pk="person_id")
