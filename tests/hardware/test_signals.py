"""Signals on gpiozero MockFactory pins with a recorded (virtual) sleep."""

import random
import threading

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.signals import Signals, make_signals, timeline
from tests.loop.conftest import timed_signals
from tests.waiting import PATIENCE_S

PINS = {"green": 17, "red": 27, "buzzer": 22, "relay": 23, "button": 24}
RELAY = "signals-relay"  # the gate pulse's worker thread


class Recorder:
    """Virtual sleep: notes each hold with the worker that held and the pin states."""

    def __init__(self):
        self.signals = None
        self.holds = []

    def __call__(self, seconds):
        s = self.signals.state()
        self.holds.append((threading.current_thread().name, {k: s[k] for k in Signals.OUTPUTS},
                           seconds))

    def on_time(self, output):
        """Seconds *output* was on, counted on the holds of the worker driving it
        (the indication and the gate pulse run side by side)."""
        relay = output == "relay"
        return round(sum(t for worker, s, t in self.holds
                         if (worker == RELAY) == relay and s[output]), 6)


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
    assert sig.wait(PATIENCE_S)
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
    assert sig.wait(PATIENCE_S)
    assert states(factory, 27) == [False, True, False]
    assert states(factory, 22) == [False, True, False, True, False]
    assert states(factory, 23) == [False]  # gate stays shut
    assert rec.on_time("red") == 2.0 and rec.on_time("buzzer") == 0.2


def test_refer_blinks_amber_and_fever_long_beep(rig):
    sig, rec, factory = rig
    sig.refer()
    assert sig.wait(PATIENCE_S)
    both = [False, True, False, True, False, True, False]
    assert states(factory, 17) == both and states(factory, 27) == both
    rec.holds.clear()
    sig.fever()
    assert sig.wait(PATIENCE_S)
    assert rec.on_time("buzzer") == 1.0 and rec.on_time("red") == 2.0
    assert rec.on_time("relay") == 0.0


def test_open_gate_and_validation(rig):
    sig, rec, factory = rig
    sig.open_gate(7.5)
    assert sig.wait(PATIENCE_S)
    assert rec.holds == [(RELAY, {"green": False, "red": False, "buzzer": False,
                                  "relay": True}, 7.5)]
    assert states(factory, 23) == [False, True, False]
    for bad in (0, -1, 61):
        with pytest.raises(ValueError):
            sig.open_gate(bad)


def test_new_indication_cancels_the_running_one_but_not_the_gate_pulse(factory):
    # Real (interruptible) waiting: the allow would hold the gate open for 30 s.
    sig = make_signals(PINS, pin_factory=factory)
    sig.allow(open_s=30)
    assert factory.pin(23).state is True  # the relay is switched on by allow() itself
    assert sig.wait(0) is False  # still holding the gate open
    sig.deny()
    state = sig.state()
    assert (state["pattern"], state["relay"], state["green"]) == ("deny", True, False)
    assert sig.wait(0, relay=False) is False  # the deny shows for 2 s
    sig.close()  # wakes both workers at once; the relay goes low now, not after 30 s
    assert states(factory, 23) == [False, True, False]
    assert states(factory, 27)[-1] is False
    assert sig.wait(PATIENCE_S) is True


@pytest.fixture
def timed():
    sig, clock, factory = timed_signals(PINS)
    yield sig, clock, factory
    sig.close()
    clock.release()


def changes(factory, pin):
    """(virtual time, state) of each change of *pin* since the rig was built."""
    return factory.pin(pin).__dict__.get("timeline", [])


def test_deny_one_second_after_allow_keeps_the_gate_open_for_the_full_pulse(timed):
    sig, clock, factory = timed
    sig.allow(open_s=3.0)
    clock.advance(1.0)
    sig.deny()  # the next person is refused while the first one walks through
    clock.advance(1.0)
    assert sig.state() | {"button": None} == {"green": False, "red": True, "buzzer": False,
                                              "relay": True, "button": None, "pattern": "deny"}
    clock.advance(5.0)
    assert changes(factory, 23) == [(0.0, True), (3.0, False)]  # open for the full 3 s
    assert changes(factory, 17) == [(0.0, True), (1.0, False)]  # green gives way to the deny
    assert changes(factory, 27) == [(1.0, True), (3.0, False)]  # red for 2 s
    assert changes(factory, 22) == [(0.0, True), (0.1, False),  # allow's beep, deny's two
                                    (1.0, True), (1.1, False), (1.2, True), (1.3, False)]


@pytest.mark.parametrize("show", ["refer", "fever"])
def test_refer_or_fever_during_a_pulse_leaves_the_relay_alone(timed, show):
    sig, clock, factory = timed
    sig.allow(open_s=3.0)
    clock.advance(0.5)
    getattr(sig, show)()
    clock.advance(10.0)
    assert changes(factory, 23) == [(0.0, True), (3.0, False)]


def test_allow_during_allow_extends_the_opening_to_the_later_end(timed):
    sig, clock, factory = timed
    sig.allow(open_s=3.0)
    clock.advance(1.0)
    sig.allow(open_s=3.0)
    clock.advance(10.0)
    assert changes(factory, 23) == [(0.0, True), (4.0, False)]  # one opening, never closed between
    assert changes(factory, 17) == [(0.0, True), (1.0, False), (1.0, True), (4.0, False)]


def test_a_shorter_pulse_never_shortens_the_opening(timed):
    sig, clock, factory = timed
    sig.allow(open_s=5.0)
    clock.advance(1.0)
    sig.open_gate(1.0)
    sig.allow(open_s=2.0)
    clock.advance(10.0)
    assert changes(factory, 23) == [(0.0, True), (5.0, False)]
    assert changes(factory, 17) == [(0.0, True), (1.0, False), (1.0, True), (3.0, False)]


def test_open_gate_during_an_allow_extends_only_the_relay(timed):
    sig, clock, factory = timed
    sig.allow(open_s=3.0)
    clock.advance(2.0)
    sig.open_gate(7.5)  # the guard presses the button
    clock.advance(20.0)
    assert changes(factory, 23) == [(0.0, True), (9.5, False)]
    assert changes(factory, 17) == [(0.0, True), (3.0, False)]  # the allow shows to its end
    assert changes(factory, 22) == [(0.0, True), (0.1, False)]  # no extra beep


def test_a_pulse_after_the_last_one_ended_is_a_new_opening(timed):
    sig, clock, factory = timed
    sig.open_gate(2.0)
    clock.advance(2.0)
    sig.open_gate(1.0)  # at the very instant the first ended
    clock.advance(3.0)
    assert changes(factory, 23) == [(0.0, True), (2.0, False), (2.0, True), (3.0, False)]


def test_close_during_a_pulse_switches_the_relay_off_at_once(timed):
    sig, clock, factory = timed
    sig.allow(open_s=3.0)
    clock.advance(1.0)
    sig.close()
    assert changes(factory, 23) == [(0.0, True), (1.0, False)]
    assert factory.pin(23).state is False and factory.pin(17).state is False
    clock.advance(10.0)  # the sleeping workers wake to closed devices and touch nothing
    assert changes(factory, 23) == [(0.0, True), (1.0, False)]
    sig.open_gate(1.0)  # ignored after close
    assert factory.pin(23).state is False


def test_relay_is_never_high_after_its_pulse_end_in_any_interleaving(timed):
    """Random interleavings of pulses, indications and time: the relay pin follows
    the model "on from a pulse until the latest end asked for while it was on"."""
    sig, clock, factory = timed
    rng = random.Random(20261129)
    actions = {
        "allow": lambda s: sig.allow(open_s=s), "open_gate": lambda s: sig.open_gate(s),
        "deny": lambda s: sig.deny(), "refer": lambda s: sig.refer(),
        "fever": lambda s: sig.fever(),
    }
    expected, end = [], 0.0
    for _ in range(200):
        clock.advance(rng.choice([0.0, 0.25, 0.5, 1.0, 2.5, 6.0]))
        name, seconds = rng.choice(list(actions)), rng.choice([0.5, 1.0, 3.0, 3.25, 5.0])
        actions[name](seconds)
        if name in ("allow", "open_gate"):
            if clock.t >= end:  # no pulse running: a new opening
                if expected:
                    expected.append((end, False))
                expected.append((clock.t, True))
            end = max(end, clock.t + seconds)
        relay_on = factory.pin(23).state
        assert relay_on is (clock.t < end), (clock.t, end)
    clock.advance(10.0)
    expected.append((end, False))
    assert changes(factory, 23) == expected
    assert len(expected) > 20  # the run did open and close the gate many times


def test_relay_active_low(factory):
    pins = dict(PINS, relay_active_high=False)
    rec = Recorder()
    sig = make_signals(pins, pin_factory=factory, sleep=rec)
    rec.signals = sig
    assert factory.pin(23).state is True  # idle: coil off = pin high
    sig.open_gate(1.0)
    sig.wait(PATIENCE_S)
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
