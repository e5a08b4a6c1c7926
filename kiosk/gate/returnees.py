"""Returnee registration (返乡人员报备) at the gate.

The outcome follows the origin area's risk level on the office's list: medium or high
risk means referral to centralised quarantine and an alert; low risk means registration
and health monitoring. Only the last four characters of the ID card are ever kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.core.errors import KioskError

PHONE = re.compile(r"^1\d{10}$")
ID_LAST4 = re.compile(r"^\d{3}[\dX]$")


class ReturneeError(KioskError, ValueError):
    """A returnee registration was refused; ``code`` names the field at fault."""


@dataclass(frozen=True)
class Returnee:
    name: str
    phone: str
    id_last4: str
    origin: str  # risk area code
    arrival: str  # ISO date
    household: str  # 楼-单元-室, chosen from the compound's registry


def validate(returnee: Returnee, areas: dict[str, dict], today: date) -> dict:
    """The origin area's row; ReturneeError for a missing or malformed field."""
    if not returnee.name.strip():
        raise ReturneeError("name", "name is required")
    if not PHONE.match(returnee.phone.strip()):
        raise ReturneeError("phone", "phone must be 11 digits starting with 1")
    if not ID_LAST4.match(returnee.id_last4.strip().upper()):
        raise ReturneeError("id_last4", "only the last 4 characters of the ID card (digits or X)")
    if returnee.origin not in areas:
        raise ReturneeError("origin", f"origin {returnee.origin!r} is not on the risk-area list")
    try:
        arrival = date.fromisoformat(returnee.arrival)
    except ValueError as exc:
        raise ReturneeError("arrival", "arrival date must read YYYY-MM-DD") from exc
    if arrival > today:
        raise ReturneeError("arrival", "arrival date is in the future")
    if not returnee.household.strip():
        raise ReturneeError("household", "household returned to is required")
    return areas[returnee.origin]


def household_choices(db) -> dict[str, str]:
    """楼-单元-室 -> household id for every household in the registry, in building order."""
    rows = db.query("SELECT id, building, unit, room FROM households")
    labels = {f"{row['building']}-{row['unit']}-{row['room']}": row["id"] for row in rows}
    return dict(sorted(labels.items(), key=lambda item: [_number_first(part) for part in item[0].split("-")]))


def _number_first(part: str) -> tuple:
    return (0, int(part), "") if part.isdecimal() else (1, 0, part)


def register_returnee(gate, returnee: Returnee, lane: str | None, guard_id: str, now: datetime,
                      nonce: str | None = None) -> dict:
    """Validate, decide by risk level, record a ``returnee`` event and return it.

    A repeated ``nonce`` (the same form submitted twice) records nothing and returns the first event.
    """
    areas = {row["code"]: row for row in gate.db.query("SELECT * FROM risk_areas")}
    area = validate(returnee, areas, date.fromisoformat(gate.stamp(now).local[:10]))
    household_id = household_choices(gate.db).get(returnee.household.strip())
    if household_id is None:
        raise ReturneeError("household", f"{returnee.household!r} is not a household of the registry")
    high = area["level"] in ("medium", "high")
    codes = ["returnee_high_risk"] if high else ["returnee_low_risk"]
    return gate.record(
        "returnee", now, lane=lane, direction="in", outcome="refer" if high else "allow", codes=codes,
        guard_id=guard_id, nonce=nonce, household_id=household_id,
        data={"name": returnee.name.strip(), "phone": returnee.phone.strip(),
              "id_last4": returnee.id_last4.strip().upper(), "origin": area["code"],
              "origin_name": area["name"], "level": area["level"], "arrival": returnee.arrival,
              "household": returnee.household.strip(),
              "measure": "central_quarantine" if high else "health_monitoring"})
