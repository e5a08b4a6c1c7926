"""Shifts around midnight, custom and invalid shift configurations, the shift log."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta

import pytest

from kiosk.core.rules import Scan
from kiosk.core.shifts import ShiftConfigError, duty_within, shift_at, shift_defs, shifts_of_day
from kiosk.store.config import DEFAULT_SHIFTS
from kiosk.store.shift_logs import shift_log
from tests.conftest import NOW, SHANGHAI

DEFAULTS = shift_defs(DEFAULT_SHIFTS)
CUSTOM = [
    {"key": "night", "name_zh": "夜班", "name_en": "Night", "start": "22:00", "end": "06:00"},
    {"key": "day", "name_zh": "白班", "name_en": "Day", "start": "06:00", "end": "14:00"},
    {"key": "evening", "name_zh": "中班", "name_en": "Evening", "start": "14:00", "end": "22:00"},
]


def local(day: int, hour: int, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, ms * 1000, tzinfo=SHANGHAI)


@pytest.mark.parametrize("moment, shift_id", [
    (local(29, 23, 59, 59, 999), "2026-11-29/afternoon"),
    (local(30, 0, 0), "2026-11-30/night"),
    (local(29, 7, 59, 59, 999), "2026-11-29/night"),
    (local(29, 8, 0), "2026-11-29/morning"),
    (local(29, 15, 59), "2026-11-29/morning"),
    (local(29, 16, 0), "2026-11-29/afternoon"),
    (datetime.fromisoformat("2026-11-29T16:00:00+00:00"), "2026-11-30/night"),  # UTC input, local shift
])
def test_default_shifts_around_midnight(moment, shift_id):
    assert shift_at(moment, DEFAULTS, "Asia/Shanghai").id == shift_id


def test_shift_ref_bounds_and_names():
    ref = shift_at(local(29, 23, 0), DEFAULTS, "Asia/Shanghai")
    assert (ref.start, ref.end, ref.name_zh, ref.name_en) == (local(29, 16), local(30, 0), "中班", "Afternoon")
    assert [r.id for r in shifts_of_day(date(2026, 11, 29), DEFAULTS, "Asia/Shanghai")] == [
        "2026-11-29/night", "2026-11-29/morning", "2026-11-29/afternoon"]


@pytest.mark.parametrize("moment, shift_id, start", [
    (local(29, 21, 59, 59, 999), "2026-11-29/evening", local(29, 14)),
    (local(29, 22, 0), "2026-11-29/night", local(29, 22)),
    (local(29, 23, 59, 59, 999), "2026-11-29/night", local(29, 22)),
    (local(30, 0, 0), "2026-11-29/night", local(29, 22)),  # a night shift belongs to the day it began
    (local(30, 5, 59), "2026-11-29/night", local(29, 22)),
    (local(30, 6, 0), "2026-11-30/day", local(30, 6)),
])
def test_custom_shift_crossing_midnight(moment, shift_id, start):
    ref = shift_at(moment, shift_defs(CUSTOM), "Asia/Shanghai")
    assert (ref.id, ref.start, ref.end - ref.start) == (shift_id, start, timedelta(hours=8))


def changed(index: int, **fields) -> list[dict]:
    shifts = copy.deepcopy(DEFAULT_SHIFTS)
    shifts[index].update(fields)
    return shifts


@pytest.mark.parametrize("shifts, problem", [
    (changed(1, end="23:59"), "at 23:59 the shifts none apply"),            # one-minute gap before midnight
    (changed(0, end="16:03"), "at 16:00 the shifts \\['morning', 'afternoon'\\] apply"),
    (changed(2, start="00:01"), "at 00:00 the shifts none apply"),
    (changed(0, end="16:04")[:1] + changed(1, start="16:03")[1:], "at 16:03 the shifts"),  # overlap off the 5-minute grid
    (changed(0, start="08:01"), "at 08:00 the shifts none apply"),
    (DEFAULT_SHIFTS[:2], "the shifts none apply"),
    ([], "the shifts none apply"),
    (changed(0, key="night"), "shift key 'night' is used twice"),
    (changed(0, start="8am"), "must read HH:MM"),
    (changed(0, start="25:00"), "out of range"),
    (changed(0, start="08:60"), "out of range"),
])
def test_invalid_shift_configurations_are_refused(shifts, problem):
    with pytest.raises(ShiftConfigError, match=problem):
        shift_defs(shifts)


def test_shift_log_summary_counts(gate, community, clock):
    at = lambda h, m: local(29, h, m)  # noqa: E731 - local times of the afternoon shift (passes valid from 10:00)
    tokens = community.tokens
    gate.sign_on("G001", "1234", "in", at(16, 0))
    gate.sign_on("S001", "999999", "out", at(16, 1))
    checks = [("resident", "in", 36.5, at(17, 0)), ("vehicle", "in", 36.6, at(17, 1)),
              ("second_resident", "in", 38.0, at(17, 2)), ("revoked", "in", 36.4, at(17, 4)),
              ("monitored", "out", None, at(17, 5)), ("vehicle", "out", None, at(17, 6))]
    results = {}
    for role, direction, temperature, moment in checks:
        scan = Scan(direction=direction, token=tokens[role], lane=direction, temperature=temperature)
        if role == "vehicle":  # with its driver: a vehicle and a person passing (人车同检)
            driver = Scan(direction=direction, token=tokens["monitored"], lane=direction,
                          temperature=temperature)
            results[role, direction] = gate.check_vehicle(scan, driver, moment)
        else:
            results[role, direction] = gate.check(scan, moment)
    gate.override(results["second_resident", "in"].event["id"], "G001", "复测正常 36.9", at(17, 3), "S001", "999999")
    gate.check(Scan(direction="in", pass_id="PNOSUCHPASS", source="manual", lane="in"), at(17, 7))
    gate.record("returnee", at(17, 8), lane="in", data={"origin": "西安", "risk": "low"})
    gate.sign_off("G001", "1234", local(29, 23, 59, 59, 999), "2号楼外卖已登记")
    gate.check(Scan(direction="out", token=tokens["resident"], lane="out"), local(30, 0, 0))

    afternoon = shift_log(gate.db, gate.shift(at(20, 0)))
    assert afternoon == {
        "shift_id": "2026-11-29/afternoon", "date": "2026-11-29", "key": "afternoon", "name_zh": "中班",
        "name_en": "Afternoon", "start": "2026-11-29T16:00:00+08:00", "end": "2026-11-30T00:00:00+08:00",
        "entries": {"persons": 3, "vehicles": 1}, "exits": {"persons": 2, "vehicles": 1},
        "refusals_by_code": {"fever": 1, "revoked": 1, "unknown_pass": 1}, "referrals": 0, "fevers": 1,
        "overrides": 1, "returnees": 1,
        "guards": [{"guard_id": "G001", "name": "王建国", "on": "2026-11-29T16:00:00.000+08:00",
                    "off": "2026-11-29T23:59:59.999+08:00"},
                   {"guard_id": "S001", "name": "李秀英", "on": "2026-11-29T16:01:00.000+08:00", "off": None}],
        "handover_notes": [{"guard_id": "G001", "note": "2号楼外卖已登记"}], "events": 12,
    }
    night = shift_log(gate.db, gate.shift(local(30, 0, 0)))
    assert (night["shift_id"], night["exits"], night["events"]) == ("2026-11-30/night", {"persons": 1, "vehicles": 0}, 1)


def test_a_guard_signing_on_a_second_time_keeps_both_duty_periods(gate):
    """Issue 12: the second sign-on overwrote the first period's start (``G001 (15:58–15:58)``)."""
    gate.sign_on("G001", "1234", "in", local(29, 8, 0))
    gate.sign_off("G001", "1234", local(29, 11, 30), "午饭")
    gate.sign_on("G001", "1234", "out", local(29, 12, 15))
    gate.sign_on("G001", "1234", "in", local(29, 15, 0))  # again, without signing off: the gate closes the period
    log = shift_log(gate.db, gate.shift(local(29, 9, 0)))
    assert [(p["on"][11:16], (p["off"] or "")[11:16]) for p in log["guards"]] == [
        ("08:00", "11:30"), ("12:15", "15:00"), ("15:00", "")]


def test_shift_log_counts_referrals(gate, mint):
    gate.check(Scan(direction="in", token=mint(subject_id="R999"), temperature=36.5), NOW)
    log = shift_log(gate.db, gate.shift(NOW))
    assert (log["referrals"], log["refusals_by_code"], log["entries"]) == (1, {}, {"persons": 0, "vehicles": 0})


def test_a_guard_on_duty_across_shifts_is_on_each_with_its_times_within_it():
    """Signed on once at 06:00 and off at 17:00: on the night, morning and afternoon shifts."""
    night, morning, afternoon = shifts_of_day(date(2026, 11, 29), shift_defs(DEFAULT_SHIFTS), "Asia/Shanghai")
    periods = [{"guard_id": "G001", "name": "王建国", "on": "2026-11-29T06:00:00.000+08:00",
                "off": "2026-11-29T17:00:00.000+08:00"},
               {"guard_id": "G002", "name": "赵卫东", "on": "2026-11-29T15:00:00.000+08:00", "off": None},
               {"guard_id": "S001", "name": "", "on": None, "off": "2026-11-29T08:00:00.000+08:00"}]

    def times(ref):
        return [(p["guard_id"], (p["on"] or "")[11:16], (p["off"] or "")[11:16]) for p in duty_within(periods, ref)]

    assert times(night) == [("G001", "06:00", "08:00"), ("S001", "00:00", "08:00")]
    assert times(morning) == [("G001", "08:00", "16:00"), ("G002", "15:00", "")]
    assert times(afternoon) == [("G001", "16:00", "17:00"), ("G002", "16:00", "")]
