"""The scripted scenario through the full loop (threads, cameras, pins) and the CLI."""

import json
import sqlite3
import subprocess
import sys

from kiosk.gate.runner import Runner
from kiosk.sim.simulate import STEPS, build_simulation, expected_events
from tests.loop.conftest import PINS, highs, rig_signals


class Notes:
    """Collects sd_notify messages."""

    def __init__(self):
        self.sent = []

    def notify(self, text):
        self.sent.append(text)


def test_scenario_once_gives_exactly_the_expected_events_and_pins(community):
    rigs = {}

    def signals_for(lane_id):
        rigs[lane_id] = rig_signals(community.gate_home / "gate.db")
        return rigs[lane_id][0]

    lanes = build_simulation(community, signals_for=signals_for)
    notes = Notes()
    runner = Runner(lanes, notifier=notes, interval_s=0.05)
    runner.run(until=lambda: all(lane.source_ended for lane in lanes))
    roles = {pass_id: role for role, pass_id in community.pass_ids.items()}
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        rows = conn.execute("SELECT lane, kind, pass_id, outcome, codes FROM events "
                            "WHERE kind != 'sign_on' ORDER BY seq").fetchall()
    got = {}
    for lane, kind, pass_id, outcome, codes in rows:
        assert kind == "scan"
        got.setdefault(lane, []).append((roles[pass_id], outcome, tuple(json.loads(codes))))
    assert got == expected_events()
    assert len(rows) == sum(1 for s in STEPS if s.outcome) == 9
    for lane_id, expected in expected_events().items():
        factory = rigs[lane_id][1]
        allows = sum(1 for _, outcome, _ in expected if outcome == "allow")
        assert highs(factory, PINS["relay"]) == allows
        # each time the relay closed, that lane's allow was already stored
        assert factory.pin(PINS["relay"]).highs == sorted(factory.pin(PINS["relay"]).highs)
        assert len(factory.pin(PINS["relay"]).highs) == allows
    assert notes.sent[0].startswith("READY=1")
    assert any(n.startswith("WATCHDOG=1") for n in notes.sent)
    assert notes.sent[-1] == "STOPPING=1"
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert sorted(conn.execute("SELECT lane, thermometer FROM lane_status")) == \
            [("in", "ok 36.6"), ("out", "manual")]


def test_run_simulate_once_cli(tmp_path):
    home = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--lang", "en", "--home", str(home), "run",
                           "--simulate", "--once"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Gate running: 2 lanes. Press Ctrl-C to stop."
    assert sorted(lines[1:-1]) == sorted([
        "[in] resident          allow  Allowed",
        "[in] vehicle           deny   Refused: A vehicle pass does not let a person through: check the person's own pass",
        "[in] monitored         allow  Allowed: Person under health monitoring",
        "[in] second_resident   deny   Refused: Fever",
        "[in] revoked           deny   Refused: Pass has been revoked",
        "[in] household_member  allow  Allowed",
        "[out] isolated          deny   Refused: Person in home isolation: may not go out",
        "[out] household_member  allow  Allowed",
        "[out] resident          deny   Refused: Household exit quota used up",
    ])
    assert lines[-1] == "174 frames processed, 9 scans."
    with sqlite3.connect(home / "gate" / "gate.db") as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE kind = 'scan'").fetchone() == (9,)


def test_kiosk_run_stops_cleanly_on_sigterm(tmp_path):
    """`kiosk run` with the configured (folder) camera: lane_status written, SIGTERM ends it."""
    import signal

    import cv2

    from hardware.frames import compose_frame
    from kiosk.sim.demo import create_demo
    from tests.conftest import SESSION_START
    from tests.waiting import wait_for

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.png"), compose_frame(None, (640, 480), "plain", 1))
    demo = create_demo(tmp_path / "demo", SESSION_START, gate_settings={
        "signals": {"pin_factory": "mock"},
        "lanes": [{"id": "in", "direction": "in",
                   "camera": {"kind": "folder", "source": str(frames), "fps": 20, "loop": True}}]})
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--lang", "en", "--home", str(demo.gate_home),
                             "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def lane_status():
            with sqlite3.connect(demo.gate_home / "gate.db") as conn:
                return conn.execute("SELECT lane, camera FROM lane_status").fetchone()

        wait_for(lambda: lane_status() == ("in", "ok"), timeout=120)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, err
    assert out.splitlines()[0] == "Gate running: 1 lanes. Press Ctrl-C to stop."
    assert out.splitlines()[-1].endswith("frames processed, 0 scans.")


def test_the_scenario_never_uses_a_frame_the_decoder_misreads():
    from kiosk.sim.simulate import _frame_decoding_to

    class MisreadsFirst:
        """A decoder (hardware interface) that misreads the first frame it is shown."""

        def __init__(self):
            self.calls = 0

        def decode(self, frame):
            self.calls += 1
            return ["GP1:MISREAD"] if self.calls == 1 else []

    decoder = MisreadsFirst()
    frame = _frame_decoding_to("GP1:TOKEN", ("too_blurred",), 5, decoder, ((),))
    assert decoder.calls == 2  # the misread frame was skipped, the unreadable one taken
    assert frame.shape == (480, 640, 3)
