"""Residents, households and risk areas as the office reads them: one line each, or JSON.

Identity numbers appear masked only; their keyed hash is never shown.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from kiosk.core.clock import parse_utc
from kiosk.core.i18n import t
from kiosk.office.residents import Resident


def until_day(until: str | None, zone: ZoneInfo) -> date | None:
    """The last day a measure lasts (stored: the moment it ends, the next local midnight)."""
    return (parse_utc(until).astimezone(zone) - timedelta(seconds=1)).date() if until else None


def person_json(person: Resident, zone: ZoneInfo) -> dict:
    data = {name: value for name, value in dataclasses.asdict(person).items() if name != "id_hash"}
    last_day = until_day(person.health_until, zone)
    return {**data, "household_id": person.household_id, "health_until_day": last_day.isoformat() if last_day else None}


def person_line(person: Resident, zone: ZoneInfo) -> str:
    """R001  张三  1-3-301  13700000001  居家隔离 至 2026-12-10  王主任 13900000000  110105********002X"""
    health = t(f"ledger.health.{person.health}")
    if last_day := until_day(person.health_until, zone):
        health += t("ledger.until", day=last_day.isoformat())
    cadre = " ".join(filter(None, (person.cadre_name, person.cadre_phone)))
    parts = (person.person_id, person.name, f"{person.building}-{person.unit}-{person.room}", person.phone or "-",
             health, cadre or "-", person.id_masked or "-")
    return "  ".join(parts)


def household_line(row: dict) -> str:
    return t("ledger.household_line", id=row["id"], persons=row["persons"], vehicles=row["vehicles"])


def area_line(area: dict) -> str:
    return "  ".join((area["code"], area["name"], t(f"ledger.level.{area['level']}"), area.get("listed_on") or "-"))
