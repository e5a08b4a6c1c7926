"""The lane: decode -> temperature -> decide -> record -> signal, on real frames and a real DB."""

import json
import sqlite3
import threading
from datetime import timedelta

import numpy as np

from hardware.thermometer import FakeThermometer, ThermometerError
from kiosk.core.clock import FixedClock, utc_text
from kiosk.core.rules import Scan
from kiosk.store import lane_state
from tests.loop.conftest import (
    PINS,
    code_frame,
    empty_frame,
    events,
    highs,
    make_lane,
    rig_signals,
    timed_signals,
)
from tests.waiting import PATIENCE_S, poll


def _present(lane, token, decoder, n_empty=12):
    """Hold the code for three frames, then take it away (debounce sees it leave)."""
    lane.camera.extend([code_frame(token, decoder)] * 3 + [empty_frame()] * n_empty)


def _drain(lane):
    stop = threading.Event()
    while lane.step(stop) or lane.camera.health.state != "ended":
        pass


def test_allow_records_before_relay_and_reads_a_held_code_once(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    thermo = FakeThermometer(36.5)
    lane = make_lane(community, thermometer=thermo, signals=signals)
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    signals.wait(PATIENCE_S)
    rows = events(community.gate_home)
    assert [(r["lane"], r["direction"], r["outcome"], r["codes"], r["temperature"]) for r in rows] == \
        [("in", "in", "allow", "[]", 36.5)]
    assert rows[0]["nonce"] and len(rows[0]["nonce"]) == 32
    assert factory.pin(PINS["relay"]).highs == [1]  # the event was in the DB when the relay closed
    assert highs(factory, PINS["relay"]) == 1 and highs(factory, PINS["green"]) == 1
    assert thermo.reads == 5  # one measurement: median of five readings
    assert [r.signal for r in lane.results] == ["allow"]
    lane.close()
    signals.close()


def test_deny_and_fever_never_touch_the_relay(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    thermo = FakeThermometer(None)
    lane = make_lane(community, thermometer=thermo, signals=signals)
    thermo.script([38.1] * 5 + [36.5] * 5)
    _present(lane, community.tokens["second_resident"], decoder)
    _present(lane, community.tokens["revoked"], decoder)
    _drain(lane)
    signals.wait(PATIENCE_S)
    assert [(r["outcome"], r["codes"]) for r in events(community.gate_home)] == \
        [("deny", '["fever"]'), ("deny", '["revoked"]')]
    assert [r.signal for r in lane.results] == ["fever", "deny"]
    assert highs(factory, PINS["relay"]) == 0 and highs(factory, PINS["red"]) == 2
    lane.close()
    signals.close()


def test_a_refusal_just_after_an_allow_does_not_close_the_gate_on_the_first_person(community):
    # Lanes without their own pins share one relay: a deny on the exit lane one second
    # after an allow on the entry lane used to switch the relay off with the indication.
    signals, clock, factory = timed_signals()
    entry = make_lane(community, thermometer=FakeThermometer(36.5), signals=signals)
    exit_ = make_lane(community, lane_id="out", direction="out", signals=signals,
                      require_temperature=False)
    assert entry.handle(community.tokens["resident"], "scanner").signal == "allow"
    clock.advance(1.0)
    assert exit_.handle(community.tokens["revoked"], "scanner").signal == "deny"
    clock.advance(10.0)
    assert entry.open_seconds == 3.0
    assert factory.pin(PINS["relay"]).timeline == [(0.0, True), (3.0, False)]
    assert factory.pin(PINS["red"]).timeline == [(1.0, True), (3.0, False)]
    assert [r["outcome"] for r in events(community.gate_home)] == ["allow", "deny"]
    for lane in (entry, exit_):
        lane.close()
    signals.close()
    clock.release()


def test_a_vehicle_pass_alone_opens_nothing_at_a_pedestrian_lane(community, decoder):
    # issue 10, case 1: the car pass was not measured and let its holder in
    signals, factory = rig_signals(community.gate_home / "gate.db")
    lane = make_lane(community, thermometer=FakeThermometer(36.5), signals=signals)
    _present(lane, community.tokens["vehicle"], decoder)
    _drain(lane)
    signals.wait(5)
    assert [(r["subject_kind"], r["outcome"], r["codes"]) for r in events(community.gate_home)] == \
        [("vehicle", "deny", '["vehicle_pass_alone"]')]
    assert highs(factory, PINS["relay"]) == 0 and [r.signal for r in lane.results] == ["deny"]
    lane.close()
    signals.close()


def test_a_vehicle_lane_checks_the_driver_and_records_both_in_one_event(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    thermo = FakeThermometer(None)
    thermo.script([38.2] * 5 + [36.6] * 5)
    lane = make_lane(community, lane_id="car-in", thermometer=thermo, signals=signals, vehicle=True,
                     disinfection=True)
    for driver in ("resident", "second_resident"):  # a feverish driver, then a well one
        _present(lane, community.tokens["vehicle"], decoder)
        _present(lane, community.tokens[driver], decoder)
    _drain(lane)
    signals.wait(5)
    rows = events(community.gate_home)
    assert [(r["outcome"], r["codes"], r["subject_id"], r["plate"], r["temperature"]) for r in rows] == \
        [("deny", '["fever"]', "R001", "陕H12345", 38.2), ("allow", "[]", "R007", "陕H12345", 36.6)]
    assert [json.loads(r["data"]) for r in rows] == [
        {"vehicle_check": True, "disinfected": True, "source": "camera", "temperature_source": "sensor",
         "temperature_by": None, "vehicle_pass_id": community.pass_ids["vehicle"]}] * 2
    assert [r.signal for r in lane.results] == ["driver", "fever", "driver", "allow"]
    assert thermo.reads == 10  # the drivers were measured, the vehicle passes were not
    assert factory.pin(PINS["relay"]).highs == [2]  # opened once, for the recorded allow
    lane.close()
    signals.close()


def test_implausible_temperature_is_measured_again(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    thermo = FakeThermometer(None)
    thermo.script([25.0] * 5 + [36.6] * 5)
    lane = make_lane(community, thermometer=thermo, signals=signals)
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    signals.wait(PATIENCE_S)
    assert [(r["outcome"], r["codes"], r["temperature"]) for r in events(community.gate_home)] == \
        [("allow", "[]", 36.6)]
    assert thermo.reads == 10
    assert highs(factory, PINS["relay"]) == 1
    # the "measure again" indication (amber blinks) came before the allow
    assert highs(factory, PINS["red"]) == 3 and highs(factory, PINS["green"]) == 4
    lane.close()
    signals.close()


def test_still_implausible_after_remeasures_is_referred(community, decoder):
    thermo = FakeThermometer(25.0)
    lane = make_lane(community, thermometer=thermo)
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    assert [(r["outcome"], r["codes"], r["temperature"]) for r in events(community.gate_home)] == \
        [("refer", '["temperature_implausible"]', 25.0)]
    assert thermo.reads == 15  # first measurement and two re-measurements
    lane.close()


def _type_reading(gate_home, lane, value, age_s):
    with sqlite3.connect(gate_home / "gate.db") as conn:
        entered = utc_text(__import__("datetime").datetime.now(__import__("datetime").timezone.utc)
                           - timedelta(seconds=age_s))
        conn.execute("INSERT INTO manual_readings (lane, value, guard_id, entered_utc) VALUES (?, ?, ?, ?)",
                     [lane, value, "G001", entered])


def test_manual_readings_are_consumed_once_and_must_be_fresh(community, decoder):
    lane = make_lane(community, thermometer=None)  # manual entry: no sensor
    _type_reading(community.gate_home, "in", 99.0, 120)  # too old: ignored
    _type_reading(community.gate_home, "out", 36.9, 5)  # other lane: ignored
    _type_reading(community.gate_home, "in", 36.8, 10)
    _present(lane, community.tokens["resident"], decoder)
    _present(lane, community.tokens["second_resident"], decoder)
    _drain(lane)
    assert [(r["subject_id"], r["outcome"], r["codes"], r["temperature"])
            for r in events(community.gate_home)] == \
        [("R001", "allow", "[]", 36.8), ("R007", "refer", '["temperature_missing"]', None)]
    assert [(_data(r)["temperature_source"], _data(r)["temperature_by"]) for r in events(community.gate_home)] == \
        [("typed", "G001"), ("none", None)]
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        used = conn.execute("SELECT lane, value, consumed_utc IS NOT NULL FROM manual_readings ORDER BY id").fetchall()
    assert used == [("in", 99.0, 0), ("out", 36.9, 0), ("in", 36.8, 1)]
    lane.close()


def _data(event) -> dict:
    return json.loads(event["data"])


def test_a_typed_reading_never_replaces_a_working_sensor(community):
    # issue 10, case 2: the sensor reads 38.9, the guard types 36.5 for the lane's next person
    lane = make_lane(community, thermometer=FakeThermometer(38.9))
    _type_reading(community.gate_home, "in", 36.5, 5)
    result = lane.handle(community.tokens["resident"], "scanner")
    event = events(community.gate_home)[-1]
    assert (result.outcome, result.codes, event["outcome"], event["codes"], event["temperature"]) == \
        ("deny", ("fever",), "deny", '["fever"]', 38.9)
    assert _data(event) == {"source": "scanner", "temperature_source": "sensor", "temperature_by": None}
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT consumed_utc FROM manual_readings").fetchall() == [(None,)]  # not used
    lane.close()


def test_a_failed_sensor_falls_back_to_the_typed_reading(community):
    thermo = FakeThermometer(None)
    thermo.script([ThermometerError("I2C error")] * 5)
    lane = make_lane(community, thermometer=thermo)
    _type_reading(community.gate_home, "in", 36.6, 5)
    lane.handle(community.tokens["resident"], "scanner")
    event = events(community.gate_home)[-1]
    assert (event["outcome"], event["temperature"]) == ("allow", 36.6)
    assert _data(event) == {"source": "scanner", "temperature_source": "typed", "temperature_by": "G001"}
    lane.close()


def test_a_typed_remeasurement_after_a_fever_refusal_needs_a_supervisor(community):
    # issue 10, case 3: deny fever at 37.8, minutes later the same pass with a typed 37.1
    lane = make_lane(community, thermometer=FakeThermometer(37.8))
    lane.gate.clock = FixedClock(lane.gate.now())
    lane.handle(community.tokens["resident"], "scanner")
    fever = events(community.gate_home)[-1]
    assert (fever["outcome"], fever["codes"], fever["temperature"]) == ("deny", '["fever"]', 37.8)
    now = lane.gate.clock.advance(minutes=5)
    lane_state.add_manual_reading(lane.gate.db, "in", 37.1, "G001", now, remeasure_of=fever["id"])
    reads = lane.thermometer.reads
    result = lane.handle(community.tokens["resident"], "scanner")
    event = events(community.gate_home)[-1]
    assert (result.outcome, result.codes, result.relay) == ("refer", ("fever_remeasured",), False)
    assert (event["outcome"], event["codes"], event["temperature"]) == ("refer", '["fever_remeasured"]', 37.1)
    assert _data(event) == {"source": "scanner", "temperature_source": "typed", "temperature_by": "G001",
                            "remeasure_of": {"id": fever["id"], "seq": fever["seq"], "temperature": 37.8}}
    assert lane.thermometer.reads == reads  # the guard's re-measurement, not the sensor
    lane.close()


def test_a_remeasurement_for_another_pass_is_not_used(community):
    lane = make_lane(community, thermometer=None)
    lane.gate.clock = FixedClock(lane.gate.now())
    _type_reading(community.gate_home, "in", 37.9, 0)
    lane.handle(community.tokens["second_resident"], "scanner")  # R007: fever on the typed reading
    fever = events(community.gate_home)[-1]
    lane_state.add_manual_reading(lane.gate.db, "in", 36.5, "G001", lane.gate.now(), remeasure_of=fever["id"])
    lane.handle(community.tokens["resident"], "scanner")
    assert [(r["subject_id"], r["outcome"], r["codes"], r["temperature"]) for r in events(community.gate_home)] == \
        [("R007", "deny", '["fever"]', 37.9), ("R001", "refer", '["temperature_missing"]', None)]
    assert _data(events(community.gate_home)[-1])["temperature_source"] == "none"
    lane.close()


def test_thermometer_errors_degrade_to_manual_and_show_in_lane_status(community, decoder):
    thermo = FakeThermometer(None)
    thermo.script([ThermometerError("I2C error at 0x5a: [Errno 121] Remote I/O error")] * 5)
    lane = make_lane(community, thermometer=thermo)
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    lane.update_status(force=True)
    assert [(r["outcome"], r["codes"]) for r in events(community.gate_home)] == \
        [("refer", '["temperature_missing"]')]
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        row = conn.execute("SELECT thermometer FROM lane_status WHERE lane = 'in'").fetchone()
    assert row == ("error: I2C error at 0x5a: [Errno 121] Remote I/O error",)
    # the sensor works again: the next person is measured, no restart
    thermo.set(36.4)
    _present(lane, community.tokens["second_resident"], decoder)
    _drain(lane)
    assert events(community.gate_home)[-1]["temperature"] == 36.4
    assert lane.status.thermometer == "ok 36.4"
    lane.close()


def test_camera_unplugged_and_back_without_restart(community, decoder):
    lane = make_lane(community, thermometer=FakeThermometer(36.5))
    stop = threading.Event()
    lane.camera.extend([empty_frame()] * 2)
    lane.step(stop)
    lane.camera.unplug()
    assert lane.step(stop) is False  # no frame, no crash
    lane.update_status(force=True)
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT camera FROM lane_status").fetchall() == [("reopening: camera unplugged",)]
    lane.camera.replug()
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    lane.update_status(force=True)
    assert [r["outcome"] for r in events(community.gate_home)] == ["allow"]
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT camera, detail FROM lane_status").fetchall() == [("ended", "通行")]
    lane.close()


def test_not_recorded_shows_alarm_keeps_relay_closed_and_recovers(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    lane = make_lane(community, thermometer=FakeThermometer(36.5), signals=signals, language="en")
    lane.gate.db.conn.execute("PRAGMA query_only=1")  # every write now fails for real
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    signals.wait(PATIENCE_S)
    (result,) = lane.results
    assert (result.outcome, result.recorded, result.signal, result.relay) == \
        ("allow", False, "not_recorded", False)
    assert "readonly" in result.error
    assert events(community.gate_home) == []
    assert highs(factory, PINS["relay"]) == 0
    assert highs(factory, PINS["buzzer"]) == 6  # the distinct alarm: six fast beeps
    assert lane.status.detail().startswith("NOT RECORDED! The event could not be saved")
    assert lane.update_status(force=True) is False  # cannot be written either; kept in memory
    lane.gate.db.conn.execute("PRAGMA query_only=0")  # space freed
    _present(lane, community.tokens["second_resident"], decoder)
    _drain(lane)
    assert [r["subject_id"] for r in events(community.gate_home)] == ["R007"]
    assert lane.results[-1].recorded and "not_recorded" not in lane.status.alerts
    assert lane.update_status(force=True) is True
    lane.close()
    signals.close()


def test_open_unrecorded_setting_opens_the_relay(community, decoder):
    signals, factory = rig_signals()
    lane = make_lane(community, thermometer=FakeThermometer(36.5), signals=signals,
                     open_unrecorded=True)
    lane.gate.db.conn.execute("PRAGMA query_only=1")
    _present(lane, community.tokens["resident"], decoder)
    _drain(lane)
    signals.wait(PATIENCE_S)
    assert lane.results[0].relay is True and highs(factory, PINS["relay"]) == 1
    lane.close()
    signals.close()


def test_button_records_manual_open_then_opens_gate(community, decoder):
    signals, factory = rig_signals(community.gate_home / "gate.db")
    lane = make_lane(community, signals=signals, direction="out", lane_id="out")
    signals.on_button(lane.manual_open)
    factory.pin(PINS["button"]).drive_low()  # pressed (pull-up)
    factory.pin(PINS["button"]).drive_high()
    signals.wait(PATIENCE_S)
    rows = events(community.gate_home, "manual_open")
    assert [(r["lane"], r["direction"], r["data"]) for r in rows] == [("out", "out", '{"source": "button"}')]
    assert factory.pin(PINS["relay"]).highs == [1]
    lane.close()
    signals.close()


def test_a_bad_frame_is_logged_and_the_loop_goes_on(community, decoder, caplog):
    lane = make_lane(community, thermometer=FakeThermometer(36.5))
    lane.camera.extend([np.zeros((480, 640, 3), np.float64)])  # not uint8: the decoder refuses it
    _present(lane, community.tokens["resident"], decoder)
    stop = threading.Event()
    thread = threading.Thread(target=lane.run, args=(stop,))
    thread.start()
    poll(lambda: lane.results)
    stop.set()
    thread.join(PATIENCE_S)
    assert [r.outcome for r in lane.results] == ["allow"]
    assert "frame failed" in caplog.text
    lane.close()


def test_repeat_within_duplicate_window_does_not_open_again(community, decoder):
    signals, factory = rig_signals()
    lane = make_lane(community, thermometer=FakeThermometer(36.5), signals=signals)
    _present(lane, community.tokens["resident"], decoder)
    _present(lane, community.tokens["resident"], decoder)  # came back within 10 s
    _drain(lane)
    signals.wait(PATIENCE_S)
    assert [r.signal for r in lane.results] == ["allow", "repeat"]
    assert len(events(community.gate_home)) == 1 and highs(factory, PINS["relay"]) == 1
    lane.close()
    signals.close()


def test_lane_status_before_the_first_scan_is_in_the_catalogue_language(community):
    chinese = make_lane(community, thermometer=FakeThermometer(36.5))
    english = make_lane(community, lane_id="out", direction="out", language="en")
    for lane in (chinese, english):
        lane.update_status(force=True)
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT lane, detail FROM lane_status ORDER BY lane").fetchall() == \
            [("in", "就绪"), ("out", "Ready")]
    chinese.close()
    english.close()


def test_a_presentation_recorded_just_before_a_crash_is_finished_not_recorded_again(community):
    """Issue 10, case 9: the lane's nonce names the presentation, not the moment.

    The first lane process recorded the allow and was killed before it drove the relay (we
    stop it exactly there: the presentation kept, Gate.check done, nothing signalled). The
    restarted lane sees the same code again: nothing new is recorded, and the gate opens once.
    """
    token = community.tokens["resident"]
    crashed = make_lane(community, require_temperature=False)
    presentation = lane_state.present(crashed.gate.db, "in", token, crashed.gate.now(), 10.0)
    first = crashed.gate.check(Scan(direction="in", token=token, lane="in", nonce=presentation.nonce))
    assert first.decision.outcome == "allow"
    crashed.close()

    signals, clock, factory = timed_signals()
    restarted = make_lane(community, signals=signals, require_temperature=False)
    result = restarted.handle(token, "scanner")
    assert (result.signal, result.relay, result.event["id"]) == ("allow", True, first.event["id"])
    assert [r["nonce"] for r in events(community.gate_home)] == [presentation.nonce]
    assert highs(factory, PINS["relay"]) == 1
    again = restarted.handle(token, "scanner")  # held up once more: handled already, no second opening
    assert (again.signal, again.relay, len(events(community.gate_home))) == ("repeat", False, 1)
    clock.advance(10.0)
    assert highs(factory, PINS["relay"]) == 1
    restarted.close()
    signals.close()
    clock.release()


def test_the_same_code_after_the_duplicate_window_is_a_new_presentation(community):
    signals, clock, factory = timed_signals()
    lane = make_lane(community, signals=signals, require_temperature=False, lane_id="out", direction="out")
    first = lane.handle(community.tokens["resident"], "scanner")
    lane.gate.clock = FixedClock(lane.gate.now() + timedelta(seconds=11))
    second = lane.handle(community.tokens["resident"], "scanner")
    assert (first.signal, second.signal) == ("allow", "allow")
    assert len({r["nonce"] for r in events(community.gate_home)}) == 2
    lane.close()
    signals.close()
    clock.release()


def test_the_lane_speaks_the_decision(community, decoder, tmp_path):
    """allow, fever and isolated prompts, played by the lane process as it decides (fake speaker)."""
    from hardware.audio import FakeAudio
    from kiosk.gate.voice import Voice

    speaker = FakeAudio()
    voice = Voice(speaker, tmp_path)
    voice.files = {prompt: tmp_path / f"{prompt}.wav" for prompt in ("allow", "fever", "isolated")}
    thermo = FakeThermometer(36.5)
    lane = make_lane(community, thermometer=thermo, voice=voice)
    lane.handle(community.tokens["resident"])
    thermo.set(38.6)
    lane.handle(community.tokens["second_resident"])
    lane.close()
    exit_lane = make_lane(community, lane_id="out", direction="out", require_temperature=False, voice=voice)
    exit_lane.handle(community.tokens["isolated"])  # an isolated person may come home, not go out
    assert [path.name for path in speaker.played] == ["allow.wav", "fever.wav", "isolated.wav"]
    exit_lane.close()
    assert speaker.closed
