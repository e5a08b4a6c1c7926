"""Guards: hashed PINs, lockout, sign on/off, and the guard and shift on every event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from kiosk.core.rules import Scan
from kiosk.store import guards
from kiosk.store.events import RecordingError
from kiosk.store.guards import GuardError
from tests.conftest import NOW


def refused_code(action) -> str:
    with pytest.raises(GuardError) as caught:
        action()
    return caught.value.code


def test_pin_is_stored_only_as_a_salted_scrypt_hash(gate):
    guards.add_guard(gate.db, "G777", "赵六", "246813", "物业")
    stored = gate.db["guards"].get("G777")["pin_hash"]
    assert stored.startswith("scrypt$16384$8$1$") and "246813" not in stored
    assert guards.hash_pin("246813") != guards.hash_pin("246813")  # salted
    assert guards.pin_matches("246813", stored) and not guards.pin_matches("246814", stored)
    dump = "\n".join(gate.db.conn.iterdump())
    assert "246813" not in dump


@pytest.mark.parametrize("stored", ["", "plain-1234", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!"])
def test_damaged_hashes_never_match(stored):
    assert guards.pin_matches("1234", stored) is False


@pytest.mark.parametrize("pin", ["123", "abcd", "1234567890123", "12 34", ""])
def test_bad_pin_formats_are_refused(gate, pin):
    assert refused_code(lambda: guards.add_guard(gate.db, "G9", "x", pin)) == "bad_pin_format"


def test_duplicate_guard_and_bad_role_are_refused(gate):
    assert refused_code(lambda: guards.add_guard(gate.db, "G001", "x", "1111")) == "exists"
    assert refused_code(lambda: guards.add_guard(gate.db, "G9", "x", "1111", role="boss")) == "bad_role"


def test_wrong_pin_and_unknown_guard_look_the_same(gate):
    assert refused_code(lambda: guards.authenticate(gate.db, "G001", "0000", NOW)) == "wrong_pin"
    assert refused_code(lambda: guards.authenticate(gate.db, "G404", "1234", NOW)) == "wrong_pin"
    assert guards.authenticate(gate.db, "G001", "1234", NOW).name == "王建国"


def test_lockout_after_five_wrong_pins_and_unlock_after_five_minutes(gate):
    codes = [refused_code(lambda: guards.authenticate(gate.db, "G001", "0000", NOW)) for _ in range(5)]
    assert codes == ["wrong_pin"] * 4 + ["locked"]
    assert gate.db["guards"].get("G001")["locked_until"] == "2026-11-29T02:05:00.000Z"
    # even the right PIN is refused while locked
    assert refused_code(lambda: guards.authenticate(gate.db, "G001", "1234", NOW + timedelta(minutes=4, seconds=59))) \
        == "locked"
    assert guards.authenticate(gate.db, "G001", "1234", NOW + timedelta(minutes=5)).id == "G001"
    assert gate.db["guards"].get("G001")["failed_attempts"] == 0


def test_a_right_pin_resets_the_failure_count(gate):
    for _ in range(4):
        refused_code(lambda: guards.authenticate(gate.db, "G001", "0000", NOW))
    guards.authenticate(gate.db, "G001", "1234", NOW)
    assert refused_code(lambda: guards.authenticate(gate.db, "G001", "0000", NOW)) == "wrong_pin"


def test_sign_on_and_off_are_events_naming_the_guard(gate):
    on = gate.sign_on("G001", "1234", "in", NOW)
    assert (on["kind"], on["guard_id"], on["lane"], on["shift_id"]) == ("sign_on", "G001", "in", "2026-11-29/morning")
    assert json.loads(on["data"]) == {"name": "王建国", "organisation": "南秦社区"}
    assert guards.on_duty(gate.db, "in") == "G001"
    off = gate.sign_off("G001", "1234", NOW + timedelta(hours=6), "交接：3号楼快递")
    assert (off["kind"], off["guard_id"], off["lane"], off["shift_id"]) == ("sign_off", "G001", "in",
                                                                           "2026-11-29/afternoon")
    assert json.loads(off["data"]) == {"handover_note": "交接：3号楼快递"}
    assert guards.open_duty(gate.db) == [] and guards.on_duty(gate.db, "in") is None
    duty = gate.db["duty"].get(1)
    assert (duty["on_utc"], duty["off_utc"], duty["handover_note"]) == (
        "2026-11-29T02:00:00.000Z", "2026-11-29T08:00:00.000Z", "交接：3号楼快递")


def test_sign_off_needs_the_pin_and_being_on_duty(gate):
    assert refused_code(lambda: gate.sign_off("G001", "1234", NOW)) == "not_on_duty"
    gate.sign_on("G001", "1234", "in", NOW)
    assert refused_code(lambda: gate.sign_off("G001", "9999", NOW)) == "wrong_pin"
    assert gate.db["events"].count == 1


def test_signing_on_again_moves_the_guard(gate):
    gate.sign_on("G001", "1234", "in", NOW)
    gate.sign_on("G001", "1234", "out", NOW + timedelta(minutes=1))
    assert [(d["guard_id"], d["lane"]) for d in guards.open_duty(gate.db)] == [("G001", "out")]


def test_events_carry_the_guard_on_duty_at_their_lane_and_the_shift(gate, community):
    tokens = community.tokens
    before = gate.check(Scan(direction="in", token=tokens["resident"], temperature=36.5, lane="in"), NOW)
    gate.sign_on("G001", "1234", "in", NOW)
    gate.sign_on("S001", "999999", "out", NOW)
    entry = gate.check(Scan(direction="in", token=tokens["second_resident"], temperature=36.5, lane="in"), NOW)
    leave = gate.check(Scan(direction="out", token=tokens["monitored"], lane="out"), NOW)
    night = gate.check(Scan(direction="out", token=tokens["resident"], lane="out"), NOW.replace(hour=23) +
                       timedelta(hours=1, minutes=30))
    assert [(e.event["guard_id"], e.event["shift_id"]) for e in (before, entry, leave, night)] == [
        (None, "2026-11-29/morning"), ("G001", "2026-11-29/morning"), ("S001", "2026-11-29/morning"),
        ("S001", "2026-11-30/night")]
    gate.sign_off("S001", "999999", NOW)
    lone = gate.check(Scan(direction="out", token=tokens["second_resident"], lane="out"), NOW + timedelta(minutes=1))
    assert lone.event["guard_id"] == "G001"  # no one at this lane: the guard at any lane


def test_override_is_its_own_event_naming_the_guard(gate, community):
    gate.sign_on("G001", "1234", "in", NOW)
    refused = gate.check(Scan(direction="in", token=community.tokens["resident"], temperature=37.6, lane="in"), NOW)
    event = gate.override(refused.event["id"], "G001", "  复测 36.8  ", NOW + timedelta(minutes=2),
                          supervisor_id="S001", supervisor_pin="999999")
    assert (event["kind"], event["outcome"], event["guard_id"], event["subject_id"], event["codes"]) == (
        "override", "allow", "G001", "R001", "[]")
    assert json.loads(event["data"]) == {"overrides": refused.event["id"], "overridden_codes": '["fever"]',
                                         "reason": "复测 36.8", "approved_by": "S001"}
    assert refused_code(lambda: gate.override(refused.event["id"], "G001", "   ", NOW)) == "reason_required"
    assert refused_code(lambda: gate.override(event["id"], "G001", "again", NOW)) == "not_refused"
    assert refused_code(lambda: gate.override("no-such-id", "G001", "why", NOW)) == "not_refused"
    rows = gate.db["events"].count
    double_tap = refused_code(lambda: gate.override(refused.event["id"], "G001", "复测", NOW,
                                                    supervisor_id="S001", supervisor_pin="999999"))
    assert (double_tap, gate.db["events"].count) == ("already_overridden", rows)


def refuse_events(gate, kind: str, how: str) -> None:
    """Make the events table refuse this kind: the statement (ABORT) or the whole transaction (ROLLBACK)."""
    gate.db.conn.execute(f"CREATE TRIGGER refuse_{kind} BEFORE INSERT ON events WHEN NEW.kind = '{kind}' "
                         f"BEGIN SELECT RAISE({how}, 'refused by the test'); END")


def counts(gate) -> tuple[int, int, int]:
    """(events, duty rows, open duty rows)"""
    return (gate.db["events"].count, gate.db["duty"].count,
            gate.db["duty"].count_where("off_utc IS NULL"))


@pytest.mark.parametrize("how", ["ABORT", "ROLLBACK"])
def test_sign_on_is_not_kept_when_its_event_is_not_recorded(gate, how):
    gate.sign_on("G001", "1234", "in", NOW)
    refuse_events(gate, "sign_on", how)
    with pytest.raises(RecordingError, match="refused by the test"):
        gate.sign_on("G001", "1234", "out", NOW + timedelta(minutes=1))  # would close the "in" duty first
    assert counts(gate) == (1, 1, 1)
    assert guards.open_duty(gate.db)[0]["lane"] == "in"


@pytest.mark.parametrize("how", ["ABORT", "ROLLBACK"])
def test_sign_off_is_not_kept_when_its_event_is_not_recorded(gate, how):
    gate.sign_on("G001", "1234", "in", NOW)
    refuse_events(gate, "sign_off", how)
    with pytest.raises(RecordingError, match="refused by the test"):
        gate.sign_off("G001", "1234", NOW + timedelta(minutes=1), "交接")
    assert counts(gate) == (1, 1, 1)
    gate.db.conn.execute("DROP TRIGGER refuse_sign_off")
    gate.sign_off("G001", "1234", NOW + timedelta(minutes=2), "交接")
    assert counts(gate) == (2, 1, 0)


@pytest.mark.parametrize("how", ["ABORT", "ROLLBACK"])
def test_an_override_whose_event_is_not_recorded_leaves_the_refusal_open(gate, community, how):
    refused = gate.check(Scan(direction="in", token=community.tokens["resident"], temperature=37.6, lane="in"), NOW)
    refuse_events(gate, "override", how)
    with pytest.raises(RecordingError, match="refused by the test"):
        gate.override(refused.event["id"], "G001", "复测 36.8", NOW, "S001", "999999")
    assert gate.db["events"].count == 1 and gate.db["lane_commands"].count == 0  # no open without its event
    gate.db.conn.execute("DROP TRIGGER refuse_override")
    assert gate.override(refused.event["id"], "G001", "复测 36.8", NOW, "S001", "999999")["kind"] == "override"
    assert gate.db["events"].count == 2
