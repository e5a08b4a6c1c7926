"""Fixtures for the scan loop: a real demo community, real frames, mock GPIO pins."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.camera import FrameListCamera
from hardware.decoder import make_decoder
from hardware.frames import compose_frame
from hardware.signals import Signals, make_signals
from hardware.thermometer import FakeThermometer
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate
from kiosk.sim.demo import GUARD
from tests.conftest import SESSION_START
from tests.waiting import PATIENCE_S

PINS = {"green": 17, "red": 27, "buzzer": 22, "relay": 23, "button": 24}


class AuditPin(MockPin):
    """A mock pin that notes, each time it goes high, how many events the database holds."""

    db_path = None  # set per pin by the test

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and value and getattr(self, "db_path", None):
            with sqlite3.connect(self.db_path) as conn:
                count = conn.execute("SELECT count(*) FROM events WHERE kind != 'sign_on'").fetchone()[0]
            self.__dict__.setdefault("highs", []).append(count)
        return changed


class VirtualSleep:
    """Signal patterns run instantly; holds are noted (no timed tests)."""

    def __init__(self):
        self.holds = []

    def __call__(self, seconds):
        self.holds.append(seconds)


class ManualClock:
    """Virtual time that only the test moves: signal workers' sleeps block until then.

    ``advance`` wakes sleepers in time order and lets each react (switch pins,
    sleep again or finish) before going on, so pins can be checked at any instant
    of a real timeline without waiting. Pass ``sleep=clock.sleep, clock=clock``.
    """

    def __init__(self):
        self.t = 0.0
        self._cond = threading.Condition()
        self._asleep = {}  # worker thread -> wake time
        self._older = set(threading.enumerate())  # other tests' workers are not ours

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        me = threading.current_thread()
        with self._cond:
            self._asleep[me] = self.t + seconds
            self._cond.notify_all()
            self._cond.wait_for(lambda: me not in self._asleep)

    def settle(self):
        """Wait until every new signals worker is asleep here or has finished."""
        deadline = time.monotonic() + PATIENCE_S
        with self._cond:
            while any(t.name.startswith("signals-") and t not in self._asleep
                      and t not in self._older for t in threading.enumerate()):
                if time.monotonic() > deadline:
                    raise AssertionError("signal workers did not settle")
                self._cond.wait(0.002)  # a finishing thread does not notify

    def advance(self, seconds):
        self.settle()
        end = self.t + seconds
        while True:
            with self._cond:
                due = min((w for w in self._asleep.values() if w <= end), default=None)
                if due is None:
                    self.t = end
                    return
                self.t = due
                for thread in [t for t, w in self._asleep.items() if w <= due]:
                    del self._asleep[thread]
                self._cond.notify_all()
            self.settle()

    def release(self):
        """End of test: every sleeper wakes, far in the future."""
        self.advance(float("inf"))


class TimedPin(MockPin):
    """A mock pin that notes each change with the ManualClock time (rounded to µs)."""

    clock = None  # set per pin by the test

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and getattr(self, "clock", None) is not None:
            self.__dict__.setdefault("timeline", []).append((round(self.clock(), 6), value))
        return changed


def timed_signals(pins=PINS) -> tuple[Signals, ManualClock, MockFactory]:
    """Signals on mock pins that note when (in virtual time) they change."""
    clock = ManualClock()
    factory = MockFactory(pin_class=TimedPin)
    signals = make_signals(pins, pin_factory=factory, sleep=clock.sleep, clock=clock)
    for pin in pins.values():
        factory.pin(pin).clock = clock
    return signals, clock, factory


def rig_signals(db_path=None) -> tuple[Signals, MockFactory]:
    factory = MockFactory(pin_class=AuditPin)
    signals = make_signals(PINS, pin_factory=factory, sleep=VirtualSleep())
    for pin in PINS.values():
        factory.pin(pin).db_path = db_path
    return signals, factory


def highs(factory, pin) -> int:
    """How many times the pin went high."""
    return sum(1 for s in factory.pin(pin).states if s.state)


@pytest.fixture(scope="session")
def decoder():
    return make_decoder("zxing")


@pytest.fixture
def demo_time():
    """The lanes decide at the system clock: the demo community is dated by it too."""
    return SESSION_START


_FRAMES: dict = {}


def code_frame(token: str, decoder, degradation="plain", seed=1):
    """A 640x480 frame of *token* that zxing reads (first readable seed from *seed*)."""
    key = (token, degradation, seed)
    if key not in _FRAMES:
        for s in range(seed, seed + 100):
            frame = compose_frame(token, (640, 480), degradation, s)
            if decoder.decode(frame) == [token]:
                _FRAMES[key] = frame
                break
    return _FRAMES[key]


def empty_frame(seed=3):
    return compose_frame(None, (640, 480), "plain", seed)


class Ticker:
    """The lane's frame clock: 0.1 s per call."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 0.1
        return self.t


def make_lane(community, *, lane_id="in", direction="in", frames=(), thermometer=None,
              require_temperature=True, decoder=None, signals=None, **options) -> Lane:
    gate = Gate.open(community.gate_home)
    if not gate.db["duty"].count_where("off_utc IS NULL"):
        gate.sign_on(GUARD[0], GUARD[2], lane_id, gate.now())
    return Lane(lane_id, direction, gate, camera=FrameListCamera(list(frames)),
                decoder=decoder or make_decoder("zxing"), thermometer=thermometer,
                signals=signals, require_temperature=require_temperature,
                sleep=lambda s: None, mono=Ticker(), remeasure_pause_s=0, **options)


def events(gate_home, kind="scan"):
    with sqlite3.connect(gate_home / "gate.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM events WHERE kind = ? ORDER BY seq", [kind])]


@pytest.fixture
def fake_thermometer():
    return FakeThermometer(None)
