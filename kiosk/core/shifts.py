"""Three rotating shifts a day (早班/中班/夜班) and the shift log.

Shifts are defined in local time in the configuration. A shift's date is the local
date on which it starts, so a 22:00-06:00 shift at 03:00 belongs to the day before.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kiosk.core.event_kinds import kinds_with

DAY_MINUTES = 24 * 60


class ShiftConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ShiftDef:
    no: int
    key: str
    name_zh: str
    name_en: str
    start: int  # minutes after local midnight
    end: int    # minutes after local midnight; 1440 means midnight at the end

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # crosses midnight


@dataclass(frozen=True)
class ShiftRef:
    id: str
    date: date
    shift: ShiftDef
    start: datetime  # local, aware
    end: datetime

    @property
    def name_zh(self) -> str:
        return self.shift.name_zh

    @property
    def name_en(self) -> str:
        return self.shift.name_en


def _minutes(text: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError as exc:
        raise ShiftConfigError(f"shift time {text!r} must read HH:MM") from exc
    value = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= value <= DAY_MINUTES):
        raise ShiftConfigError(f"shift time {text!r} is out of range")
    return value


def shift_defs(config_shifts: list[dict]) -> list[ShiftDef]:
    """Parse and check the configured shifts: every minute of the day in exactly one."""
    defs = [ShiftDef(no=i, key=s["key"], name_zh=s["name_zh"], name_en=s["name_en"],
                     start=_minutes(s["start"]) % DAY_MINUTES, end=_minutes(s["end"]))
            for i, s in enumerate(config_shifts, start=1)]
    keys = [d.key for d in defs]
    for key in keys:
        if keys.count(key) > 1:  # the key names the shift in every event's shift id
            raise ShiftConfigError(f"shift key {key!r} is used twice")
    for minute in range(DAY_MINUTES):  # shifts start and end on any minute
        owners = [d.key for d in defs if d.contains(minute)]
        if len(owners) != 1:
            raise ShiftConfigError(f"at {minute // 60:02d}:{minute % 60:02d} the shifts {owners or 'none'} "
                                   "apply; every moment must belong to exactly one shift")
    return defs


def shift_at(moment: datetime, defs: list[ShiftDef], tz_name: str) -> ShiftRef:
    """The shift a moment falls in."""
    local = moment.astimezone(ZoneInfo(tz_name))
    minute = local.hour * 60 + local.minute
    shift = next(d for d in defs if d.contains(minute))
    day = local.date()
    if shift.start > shift.end and minute < shift.end:
        day -= timedelta(days=1)  # the early-morning part of a shift that began yesterday
    return make_ref(day, shift, tz_name)


def make_ref(day: date, shift: ShiftDef, tz_name: str) -> ShiftRef:
    zone = ZoneInfo(tz_name)
    start = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=shift.start)
    length = (shift.end - shift.start) % DAY_MINUTES or DAY_MINUTES
    return ShiftRef(id=f"{day.isoformat()}/{shift.key}", date=day, shift=shift,
                    start=start, end=start + timedelta(minutes=length))


def shifts_of_day(day: date, defs: list[ShiftDef], tz_name: str) -> list[ShiftRef]:
    return sorted((make_ref(day, d, tz_name) for d in defs), key=lambda ref: ref.start)


PASSAGE_KINDS = kinds_with(passage=True)
DUTY_KINDS = kinds_with(duty=True)


class DutyPeriods:
    """Each guard's periods on duty, one per sign-on, from the sign-on and sign-off events in order.

    A guard who signs on a second time starts a new period (the gate closes the open one at
    that moment), so two periods never share one guard's entry. A sign-off without a sign-on
    in the events given (the guard came on before them) gives a period with ``on`` None.
    """

    def __init__(self) -> None:
        self.periods: list[dict] = []
        self.open: dict[str, dict] = {}

    def add(self, event: dict, data: dict) -> None:
        guard_id, moment = event["guard_id"], event["ts_local"]
        if event["kind"] == "sign_on":
            if guard_id in self.open:
                self.open.pop(guard_id)["off"] = moment
            self.open[guard_id] = {"guard_id": guard_id, "name": data.get("name", ""), "on": moment, "off": None}
            self.periods.append(self.open[guard_id])
        elif guard_id in self.open:
            self.open.pop(guard_id)["off"] = moment
        else:
            self.periods.append({"guard_id": guard_id, "name": "", "on": None, "off": moment})


def duty_within(periods: list[dict], ref: ShiftRef) -> list[dict]:
    """The duty periods (``DutyPeriods``, over a time wider than the shift) that overlap the shift,
    cut to it: a guard on since before the shift is on from its start, one still on after it
    until its end; a period still open stays open. So a guard who signed on once at 06:00 and
    worked until 17:00 is on every shift of those hours, each with its own times."""
    within = []
    for period in periods:
        on, off = (datetime.fromisoformat(period[end]) if period[end] else None for end in ("on", "off"))
        if (on is not None and on >= ref.end) or (off is not None and off <= ref.start):
            continue
        within.append({**period, "on": period["on"] if on and on >= ref.start else _local_text(ref.start),
                       "off": period["off"] if off is None or off <= ref.end else _local_text(ref.end)})
    return within


def _local_text(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")  # as events hold ts_local


def _count(moves: dict[str, Counter], passage: dict, step: int) -> None:
    # a vehicle passage is its driver's passage too (人车同检: subject = driver, plate = vehicle)
    moves[passage["direction"]]["vehicles"] += step * (bool(passage["plate"]) or passage["subject_kind"] == "vehicle")
    moves[passage["direction"]]["persons"] += step * (passage["subject_kind"] != "vehicle")


def summarise(events: list[dict]) -> dict:
    """A shift log from the shift's events (works on gate and office rows alike)."""
    moves = {"in": Counter(), "out": Counter()}
    refusals: Counter = Counter()
    duty = DutyPeriods()
    notes, fevers, overrides, returnees, referrals = [], 0, 0, 0, 0
    passages: dict[str, dict] = {}  # id -> allowed passage, for a face check that undoes one
    for event in events:
        codes = json.loads(event["codes"])
        data = json.loads(event["data"])
        if event["kind"] in PASSAGE_KINDS and event["outcome"] == "allow" and event["direction"] in moves:
            _count(moves, event, 1)
            passages[event["id"]] = event
        if event["kind"] == "face_check" and data.get("face_check_of") in passages:
            _count(moves, passages.pop(data["face_check_of"]), -1)  # someone else's pass: stopped, not passed
        if event["outcome"] == "deny":
            refusals.update(codes)
        referrals += event["outcome"] == "refer"
        fevers += "fever" in codes
        overrides += event["kind"] == "override"
        returnees += event["kind"] == "returnee"
        if event["kind"] in DUTY_KINDS and event["guard_id"]:
            duty.add(event, data)
            if event["kind"] == "sign_off" and data.get("handover_note"):
                notes.append({"guard_id": event["guard_id"], "note": data["handover_note"]})
    return {
        "entries": {"persons": moves["in"]["persons"], "vehicles": moves["in"]["vehicles"]},
        "exits": {"persons": moves["out"]["persons"], "vehicles": moves["out"]["vehicles"]},
        "refusals_by_code": dict(sorted(refusals.items())),
        "referrals": referrals, "fevers": fevers, "overrides": overrides, "returnees": returnees,
        "guards": duty.periods, "handover_notes": notes, "events": len(events),
    }
