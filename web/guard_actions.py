"""What a signed-on guard can do from the touchscreen when the machines cannot.

Each function takes the gate and ``now`` and records through the gate, so a manual
decision is made and logged exactly like a scan (with source ``manual``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.plates import normalise_plate
from kiosk.core.rules import Scan
from kiosk.gate.service import CheckResult, Gate
from kiosk.store import lane_state, registry
from web.lookup import mask_name, subject_name


class NoSuchPass(LookupError):
    """A typed pass id the registry does not know: a typo to correct, not a refusal to record."""


def parse_temperature(text: str | None) -> float | None:
    """A typed temperature, or None when left empty; ValueError for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    if not 30.0 <= value <= 45.0:
        raise ValueError(f"temperature {value} is outside 30-45 °C")
    return value


def manual_scan(gate: Gate, lane: str, pass_id: str | None, temperature: float | None, **fields) -> Scan:
    """A guard's check at a lane, with the lane's direction and temperature requirement (as the scan loop)."""
    settings = gate.lane(lane)
    return Scan(direction=settings["direction"], pass_id=pass_id.strip().upper() if pass_id else None,
                temperature=temperature, temperature_required=bool(settings.get("require_temperature")),
                lane=lane, source="manual", **fields)


def manual_check(gate: Gate, pass_id: str, lane: str, temperature: float | None, now: datetime,
                 typed_by: str | None = None, nonce: str | None = None) -> CheckResult:
    """Decide on a pass id typed or picked by the guard, recorded as manual (a temperature as typed),
    once per form ``nonce``. NoSuchPass, with nothing recorded, for an id the registry does not know."""
    if registry.get_pass(gate.db, pass_id.strip().upper()) is None:
        raise NoSuchPass(pass_id)
    return gate.check(manual_scan(gate, lane, pass_id, temperature, nonce=nonce,
                                  temperature_by=typed_by if temperature is not None else None), now)


@dataclass(frozen=True)
class VehiclePassage:
    """The vehicle with its driver (one event) and each passenger's own decision (one event each)."""

    driver: CheckResult
    passengers: tuple[CheckResult, ...]


def vehicle_check(gate: Gate, plate: str, pass_id: str, lane: str, disinfected: bool, now: datetime, *,
                  driver: str, driver_temperature: float | None = None,
                  passengers: tuple[tuple[str, float | None], ...] = (), typed_by: str | None = None,
                  nonce: str | None = None) -> VehiclePassage:
    """人车同检: a vehicle by plate and/or vehicle pass id with its driver's own pass, then its passengers.

    The driver is checked by every person rule in the vehicle's event (with whether it was
    disinfected); each passenger gets the same person rules, linked to that event. A form
    ``nonce`` makes the passage (and each passenger's event) recorded once.
    """
    if not (plate.strip() or pass_id.strip()):
        raise ValueError("enter a plate or a vehicle pass id")
    if not driver.strip():
        raise ValueError("enter the driver's pass id")
    vehicle = manual_scan(gate, lane, pass_id or None, None, plate=completed_plate(gate, plate) or None)

    def person(pass_id: str, temperature: float | None, part: str) -> Scan:
        return manual_scan(gate, lane, pass_id, temperature, nonce=f"{nonce}:{part}" if nonce else None,
                           temperature_by=typed_by if temperature is not None else None)

    checked = gate.check_vehicle(vehicle, person(driver, driver_temperature, "driver"), now,
                                 data={"vehicle_check": True, "disinfected": disinfected})
    link = {"passenger_of": checked.event["id"] if checked.event else None, "vehicle_plate": checked.decision.plate}
    return VehiclePassage(checked, tuple(gate.check(person(passenger, temperature, f"p{number}"), now, data=link)
                                         for number, (passenger, temperature) in enumerate(passengers, 1)))


def completed_plate(gate: Gate, typed: str) -> str:
    """A plate typed without its province character (H12345) as the one registered plate it can be
    (陕H12345); typed as is when complete, unknown or ambiguous."""
    plate = normalise_plate(typed)
    if not plate or not plate[0].isascii():
        return plate
    found = [row[0] for row in gate.db.conn.execute("SELECT plate FROM vehicles WHERE substr(plate, 2) = ?", [plate])]
    return found[0] if len(found) == 1 else plate


def enter_temperature(gate: Gate, lane: str, value: float, guard_id: str, now: datetime,
                      remeasure_of: str | None = None) -> int:
    """Queue a typed temperature for the lane's scan loop; returns its id.

    Unbound, the lane uses it only without a working sensor; bound to one of ``fever_refusals``
    it is that person's re-measurement. ValueError for any other event id.
    """
    gate.lane(lane)
    if remeasure_of and remeasure_of not in {event["id"] for event in fever_refusals(gate, now)}:
        raise ValueError(f"{remeasure_of!r} is not a recent fever refusal")
    return lane_state.add_manual_reading(gate.db, lane, value, guard_id, now, remeasure_of or None)


TYPED_WINDOW_S = 60.0  # the lane takes a typed reading this long (Lane.manual_window_s)


def typed_readings(gate: Gate, guard_id: str, now: datetime, minutes: float = 30) -> list[dict]:
    """The guard's typed temperatures, newest first: waiting, applied (to whom, when) or expired."""
    rows = gate.db.query("SELECT * FROM manual_readings WHERE guard_id = ? AND entered_utc >= ? ORDER BY id DESC",
                         [guard_id, utc_text(now - timedelta(minutes=minutes))])
    return [_typed_reading(gate, row, now) for row in rows]


def _typed_reading(gate: Gate, row: dict, now: datetime) -> dict:
    reading = {"value": row["value"], "direction": gate.lane(row["lane"])["direction"], "name": "", "time": ""}
    if row["consumed_utc"] is None:
        fresh = parse_utc(row["entered_utc"]) > now - timedelta(seconds=TYPED_WINDOW_S)
        return {**reading, "state": "waiting" if fresh else "expired"}
    used = list(gate.db.query(
        "SELECT * FROM events WHERE lane = ? AND ts_utc >= ? AND temperature = ? "
        "AND json_extract(data, '$.temperature_source') = 'typed' ORDER BY seq LIMIT 1",
        [row["lane"], row["entered_utc"], row["value"]]))
    if not used:
        return {**reading, "state": "expired"}
    event = used[0]
    return {**reading, "state": "applied", "name": mask_name(subject_name(gate.db, event)),
            "time": event["ts_local"][11:16]}


def fever_refusals(gate: Gate, now: datetime) -> list[dict]:
    """Fever refusals within the follow-up window, newest first: whom a guard may re-measure."""
    since = now - timedelta(minutes=gate.rules().fever_followup_minutes)
    return list(gate.db.query(
        "SELECT * FROM events e WHERE ts_utc >= ? AND outcome IN ('deny', 'refer') AND pass_id IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value = 'fever') ORDER BY seq DESC",
        [utc_text(since)]))
