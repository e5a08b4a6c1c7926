"""The risk-area list (中高风险地区): where a returnee comes from decides their referral.

Offices receive the list as a table (地区, 风险等级, 日期; sometimes 区划代码) and load it
whole: an import replaces the list. Single areas are set or cleared by hand. An area without
a code is known by its name (the returnee form offers the names either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlite_utils

from kiosk.core.errors import KioskError
from kiosk.office import ledger_fields
from kiosk.office.ledger_fields import CellError
from kiosk.office.ledger_table import read_table
from kiosk.store.db import transaction

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "区划代码", "代码", "编码", "地区代码"),
    "name": ("area", "地区", "区域", "风险区域", "风险地区", "名称", "地区名称", "name"),
    "level": ("level", "风险等级", "等级", "级别"),
    "listed_on": ("date", "日期", "公布日期", "发布日期", "调整日期"),
}
LEVEL_WORDINGS = {"low": ("low", "低", "低风险", "低风险地区"), "medium": ("medium", "中", "中风险", "中风险地区"),
                  "high": ("high", "高", "高风险", "高风险地区")}


class RiskAreaError(KioskError):
    """A risk-area edit was refused (``bad_level``, ``unknown_area``)."""


@dataclass
class RiskAreaImport:
    areas: list[dict] = field(default_factory=list)
    refusals: list[tuple[int, str, str]] = field(default_factory=list)  # (line, catalogue key, value)
    ignored: list[tuple[str, str]] = field(default_factory=list)


def level(wording: str) -> str:
    typed = ledger_fields.text(wording).lower()
    for name, wordings in LEVEL_WORDINGS.items():
        if typed in wordings:
            return name
    raise RiskAreaError("bad_level", f"risk level {wording!r} is not low, medium or high (低/中/高)")


def import_list(db: sqlite_utils.Database, path: Path, today: date, dry_run: bool = False) -> RiskAreaImport:
    """Replace the list with the file's areas; nothing changes when a row is refused."""
    table = read_table(path, COLUMNS, key_field="name")
    result = RiskAreaImport(ignored=table.ignored)
    for line, cells in table.rows:
        name = ledger_fields.text(cells.get("name"))
        try:
            listed = ledger_fields.day(cells.get("listed_on"), today)
            area = {"code": ledger_fields.text(cells.get("code")) or name, "name": name,
                    "level": level(str(cells.get("level") or "")), "listed_on": listed.isoformat() if listed else None}
        except CellError as exc:
            result.refusals.append((line, "ledger.refused.bad_date", exc.value))
            continue
        except RiskAreaError:
            result.refusals.append((line, "ledger.refused.bad_level", ledger_fields.text(cells.get("level"))))
            continue
        if not name:
            result.refusals.append((line, "ledger.refused.missing_area", ""))
            continue
        result.areas.append(area)
    if not dry_run and not result.refusals:
        with transaction(db):
            db.conn.execute("DELETE FROM risk_areas")
            db["risk_areas"].upsert_all(result.areas, pk="code")
    return result


def areas(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM risk_areas ORDER BY level DESC, code"))


def set_area(db: sqlite_utils.Database, code: str, level_wording: str, today: date, name: str | None = None,
             listed_on: date | None = None) -> dict:
    """Add or change one area (its name defaults to the code, its date to today)."""
    area = {"code": ledger_fields.text(code), "name": ledger_fields.text(name or code),
            "level": level(level_wording), "listed_on": (listed_on or today).isoformat()}
    db["risk_areas"].upsert(area, pk="code")
    return area


def clear(db: sqlite_utils.Database, code: str | None = None) -> int:
    """Remove one area, or every area when ``code`` is None; returns how many went."""
    if code is None:
        return db.conn.execute("DELETE FROM risk_areas").rowcount
    removed = db.conn.execute("DELETE FROM risk_areas WHERE code = ?", [ledger_fields.text(code)]).rowcount
    if not removed:
        raise RiskAreaError("unknown_area", f"no risk area {code}")
    return removed
