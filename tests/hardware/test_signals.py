"""Signals on gpiozero MockFactory pins with a recorded (virtual) sleep."""

import time

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.signals import Signals, make_signals, timeline

PINS = {"green": 17, "red": 27, "buzzer": 22, "relay": 23, "button": 24}


class Recorder:
    """Virtual sleep: notes each hold with the pin states during it."""

    def __init__(self):
        self.signals = None
        self.holds = []

    def __call__(self, seconds):
        s = self.signals.state()
        self.holds.append(({k: s[k] for k in Signals.OUTPUTS}, seconds))

    def on_time(self, output):
        return round(sum(t for s, t in self.holds if s[output]), 6)


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


@pytest.fixture
def rig(factory):
    rec = Recorder()
    sig = make_signals(PINS, pin_factory=factory, sleep=rec)
    rec.signals = sig
    yield sig, rec, factory
    sig.close()


def states(factory, pin):
    return [s.state for s in factory.pin(pin).states]


def test_idle_all_off(rig):
    sig, _, factory = rig
    assert sig.state() == {"green": False, "red": False, "buzzer": False,
                           "relay": False, "button": False, "pattern": None}
    assert factory.pin(23).state is False


def test_allow_pulses_relay_for_exactly_open_s(rig):
    sig, rec, factory = rig
    sig.allow(open_s=3.0)
    assert sig.wait(5)
    assert rec.on_time("relay") == 3.0
    assert rec.on_time("green") == 3.0
    assert rec.on_time("buzzer") == 0.1
    assert states(factory, 23) == [False, True, False]
    assert states(factory, 17) == [False, True, False]
    assert states(factory, 22) == [False, True, False]
    assert states(factory, 27) == [False]  # red never lit
    assert sig.state()["relay"] is False and sig.state()["pattern"] is None


def test_deny_lights_red_with_two_beeps(rig):
    sig, rec, factory = rig
    sig.deny()
    assert sig.wait(5)
    assert states(factory, 27) == [False, True, False]
    assert states(factory, 22) == [False, True, False, True, False]
    assert states(factory, 23) == [False]  # gate stays shut
    assert rec.on_time("red") == 2.0 and rec.on_time("buzzer") == 0.2


def test_refer_blinks_amber_and_fever_long_beep(rig):
    sig, rec, factory = rig
    sig.refer()
    assert sig.wait(5)
    both = [False, True, False, True, False, True, False]
    assert states(factory, 17) == both and states(factory, 27) == both
    rec.holds.clear()
    sig.fever()
    assert sig.wait(5)
    assert rec.on_time("buzzer") == 1.0 and rec.on_time("red") == 2.0
    assert rec.on_time("relay") == 0.0


def test_open_gate_and_validation(rig):
    sig, rec, factory = rig
    sig.open_gate(7.5)
    assert sig.wait(5)
    assert rec.holds == [({"green": False, "red": False, "buzzer": False,
                           "relay": True}, 7.5)]
    assert states(factory, 23) == [False, True, False]
    for bad in (0, -1, 61):
        with pytest.raises(ValueError):
            sig.open_gate(bad)


def test_new_pattern_cancels_running_one_with_relay_off(factory):
    # Real (interruptible) waiting: the allow pattern would hold for 30 s.
    sig = make_signals(PINS, pin_factory=factory)
    sig.allow(open_s=30)
    deadline = time.monotonic() + 10  # the worker thread starts asynchronously
    while factory.pin(23).state is not True and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sig.wait(0) is False  # still holding the gate open
    sig.deny()
    assert sig.state()["relay"] is False
    assert states(factory, 23) == [False, True, False]
    sig.close()
    assert states(factory, 27)[-1] is False


def test_relay_active_low(factory):
    pins = dict(PINS, relay_active_high=False)
    rec = Recorder()
    sig = make_signals(pins, pin_factory=factory, sleep=rec)
    rec.signals = sig
    assert factory.pin(23).state is True  # idle: coil off = pin high
    sig.open_gate(1.0)
    sig.wait(5)
    # The first False is the mock pin's state as an input, before gpiozero
    # made it an output driven high: no coil pulse happens there.
    assert states(factory, 23) == [False, True, False, True]
    sig.close()


def test_button_callback_fires_when_pin_driven_low(rig):
    sig, _, factory = rig
    presses = []
    sig.on_button(lambda: presses.append("rex"))
    factory.pin(24).drive_low()
    assert sig.state()["button"] is True
    factory.pin(24).drive_high()
    factory.pin(24).drive_low()
    assert presses == ["rex", "rex"]


def test_button_callback_error_does_not_escape(rig, caplog):
    sig, _, factory = rig

    def broken():
        raise RuntimeError("boom")

    sig.on_button(broken)
    factory.pin(24).drive_low()
    assert "button callback failed" in caplog.text


def test_close_is_idempotent_and_releases_pins(factory):
    sig = make_signals(PINS, pin_factory="mock")
    sig.close()
    sig.close()
    assert sig.state() == {"closed": True}
    sig.allow(1.0)  # ignored after close, no exception
    # pins are free again: a new Signals can claim them
    with make_signals(PINS, pin_factory=factory) as again:
        assert again.state()["green"] is False


def test_config_errors(factory):
    with pytest.raises(ValueError, match="lacks relay"):
        make_signals({"green": 1, "red": 2, "buzzer": 3}, pin_factory=factory)
    with make_signals({k: v for k, v in PINS.items() if k != "button"},
                      pin_factory=factory) as sig:
        with pytest.raises(ValueError, match="no button"):
            sig.on_button(print)


def test_timeline_groups_simultaneous_events():
    assert timeline([(0, "relay", True), (0, "green", True), (0.1, "buzzer", False),
                     (3, "relay", False)]) == [
        ({"relay": True, "green": True}, 0.1), ({"buzzer": False}, 2.9),
        ({"relay": False}, 0.0)]
