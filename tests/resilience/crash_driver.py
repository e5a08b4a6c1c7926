"""A scan process to be killed: plays scripted scans through real Lanes.

Run as ``python -m tests.resilience.crash_driver GATE_HOME SIGNAL_LOG COUNT``.
Scan ``i`` is presented at ``T0 + i * STEP`` on a FixedClock; a replayed scan is the same
presentation (same code, lane, within the duplicate window), so it keeps its nonce. On
start the driver resumes at the newest scripted scan already recorded (replaying
it must record nothing new) and goes on to COUNT. Just before a lane drives its
LEDs/relay, the signal hook appends ``signalled <i>`` to SIGNAL_LOG with fsync,
so the test knows, after a SIGKILL, every scan whose decision was shown.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from hardware.camera import FrameListCamera
from hardware.decoder import make_decoder
from hardware.frames import compose_frame
from hardware.signals import Signals
from hardware.thermometer import FakeThermometer
from kiosk.core.clock import FixedClock, parse_utc
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate

T0 = datetime(2026, 11, 29, 0, 0, tzinfo=timezone.utc)  # 08:00 Shanghai
STEP = timedelta(seconds=15)  # > the rules' 10 s duplicate window: no scan is a repeat
ROLES = ("resident", "household_member", "monitored", "second_resident", "vehicle",
         "revoked", "isolated", "quarantined")
CAMERA_EVERY = 25  # every 25th scan goes through a real camera frame and the decoder


def scan_plan(i: int) -> tuple[str, str, str]:
    """(lane, role, source) of scripted scan i."""
    lane = "in" if i % 2 == 0 else "out"
    source = "camera" if i % CAMERA_EVERY == 0 else "scanner"
    return lane, ROLES[(i // 2) % len(ROLES)], source


def scan_time(i: int) -> datetime:
    return T0 + i * STEP


class LoggedSignals(Signals):
    """Mock-pin signals that first write down, durably, which scan they show."""

    def __init__(self, log_fd: int, **pins) -> None:
        super().__init__(pin_factory=MockFactory(), sleep=lambda s: None, **pins)
        self.log_fd, self.current = log_fd, None

    def play(self, name, events) -> None:
        os.write(self.log_fd, f"signalled {self.current} {name}\n".encode())
        os.fsync(self.log_fd)
        super().play(name, events)


def resume_index(gate: Gate) -> int:
    newest = gate.db.conn.execute("SELECT max(ts_utc) FROM events WHERE kind = 'scan'").fetchone()[0]
    if newest is None:
        return 0
    return int((parse_utc(newest) - T0) / STEP)  # replayed: must change nothing


def main(home: str, log_path: str, count: int) -> None:
    tokens = json.loads((Path(home).parent / "demo.json").read_text(encoding="utf-8"))["tokens"]
    clock = FixedClock(T0, synchronised=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    decoder = make_decoder("zxing")
    lanes = {}
    for number, (lane_id, direction) in enumerate((("in", "in"), ("out", "out"))):
        base = 5 + number * 10
        signals = LoggedSignals(log_fd, green_pin=base, red_pin=base + 1, buzzer_pin=base + 2,
                                relay_pin=base + 3)
        lanes[lane_id] = Lane(lane_id, direction, Gate.open(home, clock=clock),
                              camera=FrameListCamera([]), decoder=decoder,
                              thermometer=FakeThermometer(36.5) if direction == "in" else None,
                              signals=signals, require_temperature=direction == "in",
                              sleep=lambda s: None, remeasure_pause_s=0)
    frames = {role: _frame(tokens[role], decoder) for role in ROLES}
    start = resume_index(lanes["in"].gate)
    print(f"resuming at {start}", flush=True)
    for i in range(start, count):
        lane_id, role, source = scan_plan(i)
        lane = lanes[lane_id]
        clock.current = scan_time(i)
        lane.signals.current = i
        if source == "camera":
            moment = (scan_time(i) - T0).total_seconds()
            lane.process_frame(frames[role], moment)
            lane.process_frame(frames[role], moment + 0.1)  # still in view: read once
        else:
            lane.handle(tokens[role], "scanner")
    print("done", flush=True)


def _frame(token: str, decoder):
    for seed in range(1, 100):
        frame = compose_frame(token, (640, 480), ("plain",), seed)
        if decoder.decode(frame) == [token]:
            return frame
    raise RuntimeError("no readable frame")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
