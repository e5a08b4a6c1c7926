"""Devices fail one after the other while the lane runs on its thread; nothing is restarted.

Camera unplugged and back, thermometer returning errors, the guard button stuck
down: the lane keeps deciding (manual check, typed temperatures), shows each
fault in lane_status, keeps the watchdog fed and recovers by itself.
"""

from __future__ import annotations

import sqlite3

import pytest

from hardware.camera import FrameListCamera
from hardware.thermometer import FakeThermometer, ThermometerError
from kiosk.core.i18n import t
from kiosk.gate.lane import Lane
from kiosk.gate.runner import Runner
from kiosk.gate.service import Gate
from kiosk.sim.demo import GUARD
from kiosk.store.events import verify_log
from tests.conftest import SESSION_START
from tests.loop.conftest import PINS, code_frame, empty_frame, highs, rig_signals
from tests.waiting import PATIENCE_S, wait_for
from web import guard_actions as web_actions

I2C_ERROR = "I2C error at 0x5a: [Errno 121] Remote I/O error"


class Notes:
    def __init__(self):
        self.sent = []

    def notify(self, text):
        self.sent.append(text)


@pytest.fixture
def demo_time():
    """The lane decides at the system clock: the demo community is dated by it too."""
    return SESSION_START


def test_lane_degrades_to_manual_use_and_recovers_without_restart(community, decoder):
    db_path = community.gate_home / "gate.db"
    web = Gate.open(community.gate_home)  # the web page's own connection, as in `kiosk serve`
    web.sign_on(GUARD[0], GUARD[2], "in", web.now())
    signals, factory = rig_signals(db_path)
    thermometer = FakeThermometer(36.5)
    lane = Lane("in", "in", Gate.open(community.gate_home), camera=FrameListCamera([]),
                decoder=decoder, thermometer=thermometer, signals=signals,
                require_temperature=True, sleep=lambda s: None, remeasure_pause_s=0,
                button_stuck_s=0.3)
    notes = Notes()
    runner = Runner([lane], notifier=notes, interval_s=0.05)

    def status():
        with sqlite3.connect(db_path) as conn:
            row = conn.execute("SELECT camera, thermometer, detail FROM lane_status").fetchone()
        return row or (None, None, None)

    def scans():
        with sqlite3.connect(db_path) as conn:
            return conn.execute("SELECT kind, subject_id, outcome, codes, temperature, "
                                "json_extract(data, '$.source') FROM events WHERE kind IN "
                                "('scan', 'manual', 'manual_open') ORDER BY seq").fetchall()

    def present(role, expected_events):
        lane.camera.extend([code_frame(community.tokens[role], decoder)] * 3 + [empty_frame()])
        wait_for(lambda: len(scans()) == expected_events)
        return scans()[-1]

    runner.start()
    try:
        assert present("resident", 1) == ("scan", "R001", "allow", "[]", 36.5, "camera")

        # 1. camera unplugged: the lane says so, the guard checks by hand on the web page
        lane.camera.unplug()
        wait_for(lambda: status()[0] == "reopening: camera unplugged")
        result = web_actions.manual_check(web, community.pass_ids["household_member"], "in", 36.7,
                                          web.now())
        assert (result.decision.outcome, result.event["kind"]) == ("allow", "manual")
        assert runner.feed_watchdog() is True  # an unplugged camera is no reason to restart
        lane.camera.replug()

        # 2. thermometer errors: "temperature not taken", then a typed reading is used
        thermometer.script([ThermometerError(I2C_ERROR)] * 10)  # two measurements of 5 readings
        assert present("monitored", 3)[2:4] == ("refer", '["health_monitoring", "temperature_missing"]')
        wait_for(lambda: status()[:2] == ("ok", f"error: {I2C_ERROR}"))
        # used because the sensor fails again: a typed reading never replaces a working sensor
        web_actions.enter_temperature(web, "in", 36.8, GUARD[0], web.now())
        assert present("second_resident", 4)[2:5] == ("allow", "[]", 36.8)
        wait_for(lambda: status()[1] == "manual ok 36.8")
        assert present("vehicle", 5)[2:4] == ("deny", '["vehicle_pass_alone"]')  # never a person's pass
        assert present("quarantined", 6)[4:] == (36.5, "camera")  # the sensor answers again
        wait_for(lambda: status()[1] == "ok 36.5")

        # 3. the guard button stuck down: one manual_open, one pulse, an alert; the gate closes
        relay_before = highs(factory, PINS["relay"])
        factory.pin(PINS["button"]).drive_low()
        stuck = t("loop.alert.button_stuck", None)
        wait_for(lambda: status()[2] == stuck)
        signals.wait(PATIENCE_S)
        assert [row for row in scans() if row[0] == "manual_open"] == \
            [("manual_open", None, None, "[]", None, "button")]
        assert highs(factory, PINS["relay"]) == relay_before + 1
        assert factory.pin(PINS["relay"]).state is False  # not held open by the stuck button
        assert runner.feed_watchdog() is True
        factory.pin(PINS["button"]).drive_high()  # freed
        wait_for(lambda: status()[2] != stuck)
        factory.pin(PINS["button"]).drive_low()  # an ordinary press works again
        factory.pin(PINS["button"]).drive_high()
        wait_for(lambda: sum(row[0] == "manual_open" for row in scans()) == 2)
        assert runner.healthy() and all(not n.startswith("STATUS=stalled") for n in notes.sent)
    finally:
        runner.stop()
        signals.close()
    report = verify_log(web.db)
    assert report.ok, report.problems
    web.close()
