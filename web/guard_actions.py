"""What a signed-on guard can do from the touchscreen when the machines cannot.

Each function takes the gate and ``now`` and records through the gate, so a manual
decision is made and logged exactly like a scan (with source ``manual``).
"""

from __future__ import annotations

from datetime import datetime

from kiosk.core.rules import Scan
from kiosk.gate.service import CheckResult, Gate
from kiosk.store import lane_state


def parse_temperature(text: str | None) -> float | None:
    """A typed temperature, or None when left empty; ValueError for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    if not 30.0 <= value <= 45.0:
        raise ValueError(f"temperature {value} is outside 30-45 °C")
    return value


def manual_check(gate: Gate, pass_id: str, lane: str, temperature: float | None, now: datetime,
                 nonce: str | None = None) -> CheckResult:
    """Decide on a pass id typed or picked by the guard, recorded as manual (once per form ``nonce``)."""
    direction = gate.lane(lane)["direction"]
    return gate.check(Scan(direction=direction, pass_id=pass_id.strip().upper(), temperature=temperature,
                           lane=lane, source="manual", nonce=nonce), now)


def vehicle_check(gate: Gate, plate: str, pass_id: str, lane: str, disinfected: bool, now: datetime,
                  nonce: str | None = None) -> CheckResult:
    """A vehicle by plate and/or vehicle pass id; whether it was disinfected goes in the event."""
    if not (plate.strip() or pass_id.strip()):
        raise ValueError("enter a plate or a vehicle pass id")
    direction = gate.lane(lane)["direction"]
    scan = Scan(direction=direction, pass_id=pass_id.strip().upper() or None, plate=plate.strip() or None,
                lane=lane, source="manual", nonce=nonce)
    return gate.check(scan, now, data={"vehicle_check": True, "disinfected": disinfected})


def enter_temperature(gate: Gate, lane: str, value: float, guard_id: str, now: datetime) -> int:
    """Queue a typed temperature for the lane's scan loop (no sensor fitted); returns its id."""
    gate.lane(lane)
    return lane_state.add_manual_reading(gate.db, lane, value, guard_id, now)
