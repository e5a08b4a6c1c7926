"""The scripted scenario through the full loop (threads, cameras, pins) and the CLI."""

import json
import sqlite3
import subprocess
import sys

from kiosk.runner import Runner
from kiosk.simulate import STEPS, build_simulation, expected_events
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
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--home", str(home), "run", "--simulate",
                           "--once", "--lang", "en"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Gate running: 2 lanes. Press Ctrl-C to stop."
    assert sorted(lines[1:-1]) == sorted([
        "[in] resident          allow  Allowed",
        "[in] vehicle           allow  Allowed",
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
