"""Lane signals: green/red LEDs, buzzer, gate relay and an optional button.

Built on gpiozero devices created from configured pin numbers and a pin
factory (real on the Pi, ``MockFactory`` in tests, ``"mock"`` in config for a
desk demo).  Two independent things run in the background, each on its own
worker thread through an injectable ``sleep``, so tests assert exact pin
sequences and durations without waiting:

* the *indication* (LEDs and buzzer): each outcome is a deterministic
  *pattern*, a timeline of pin changes.  A new indication cancels the running
  one and switches the LEDs and buzzer off first.
* the *gate pulse* (relay), started by ``allow`` and ``open_gate``.  No
  indication touches it: a refusal shown one second after an allow does not
  close the gate on the person let through.  A pulse asked for while one runs
  extends the opening to whichever end is later, never shortens it.
  ``close()`` switches the relay off at once.

The pulse end is measured on *clock* (``time.monotonic`` by default).  Tests
that move time themselves pass a *clock* with their *sleep*.  Given a *sleep*
but no *clock*, time passes only inside that sleep: a pulse asked for while
another runs starts when that one has ended, so an instant test sleep plays
every pulse in full.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gpiozero import LED, Button, Buzzer, OutputDevice

__all__ = ["Signals", "make_signals", "timeline"]

log = logging.getLogger(__name__)

Event = tuple[float, str, bool]  # (seconds from start, output name, on?)
Step = tuple[dict[str, bool], float]  # (changes to apply, then hold seconds)

BEEP_S = 0.1
SHOW_S = 2.0  # how long a deny/refer/fever indication stays visible


def timeline(events: Iterable[Event]) -> list[Step]:
    """Turn timed events into steps: changes at one instant, then the gap."""
    ordered = sorted(events, key=lambda e: e[0])
    steps: list[Step] = []
    for i, (at, name, value) in enumerate(ordered):
        if at < 0:
            raise ValueError("event times must be >= 0")
        if steps and ordered[i - 1][0] == at:
            steps[-1][0][name] = value
        else:
            if steps:
                steps[-1] = (steps[-1][0], at - ordered[i - 1][0])
            steps.append(({name: value}, 0.0))
    return steps


def _beeps(count: int, on_s: float = BEEP_S, off_s: float = BEEP_S) -> list[Event]:
    events: list[Event] = []
    for i in range(count):
        start = i * (on_s + off_s)
        events += [(start, "buzzer", True), (start + on_s, "buzzer", False)]
    return events


class _SleptTime:
    """The clock when only a sleep is injected: the time the gate pulses have slept."""

    def __init__(self, sleep: Callable[[float], Any]) -> None:
        self._sleep, self.now = sleep, 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        self.now += seconds


class Signals:
    """The lane's outputs and the request-to-exit/guard button.

    *sleep* plays pattern holds and the gate pulse; the default is a wait that a
    new pattern (for the indication) or ``close()`` interrupts at once.  Tests
    pass a recording function, and a *clock* when they move time themselves.
    """

    OUTPUTS = ("green", "red", "buzzer", "relay")
    INDICATORS = ("green", "red", "buzzer")

    def __init__(self, green_pin: int | str, red_pin: int | str, buzzer_pin: int | str,
                 relay_pin: int | str, button_pin: int | str | None = None,
                 relay_active_high: bool = True, pin_factory: Any = None,
                 sleep: Callable[[float], Any] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self._devices: list[Any] = []
        try:
            self.green = self._add(LED(green_pin, pin_factory=pin_factory))
            self.red = self._add(LED(red_pin, pin_factory=pin_factory))
            self.buzzer = self._add(Buzzer(buzzer_pin, pin_factory=pin_factory))
            self.relay = self._add(OutputDevice(relay_pin, active_high=relay_active_high,
                                                initial_value=False, pin_factory=pin_factory))
            self.button = None if button_pin is None else self._add(
                Button(button_pin, pull_up=True, pin_factory=pin_factory))
        except Exception:
            self._close_devices()  # don't leak already-claimed pins
            raise
        self._lock = threading.Lock()
        self._cancel = threading.Event()  # set: the running indication is stale
        self._closing = threading.Event()  # set by close(): the gate pulse ends at once
        self._sleep = sleep
        self._pulses_in_turn = sleep is not None and clock is None  # see the module doc
        if self._pulses_in_turn:
            slept = _SleptTime(sleep)  # type: ignore[arg-type]
            self._clock, self._relay_sleep = slept, slept.sleep
        else:
            self._clock, self._relay_sleep = clock or time.monotonic, sleep or self._closing.wait
        self._worker: threading.Thread | None = None
        self._relay_worker: threading.Thread | None = None
        self._relay_until = 0.0
        self._pattern: str | None = None
        self._closed = False

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    # -- outcomes ------------------------------------------------------------
    def allow(self, open_s: float = 5.0) -> None:
        """Green on and one short beep; relay pulsed for exactly *open_s*."""
        self._check_seconds(open_s)
        self.play("allow", [(0.0, "green", True), (open_s, "green", False),
                            *_beeps(1, on_s=min(BEEP_S, open_s))])
        self.open_gate(open_s)

    def deny(self) -> None:
        """Red on with two beeps."""
        self.play("deny", [(0.0, "red", True), (SHOW_S, "red", False), *_beeps(2)])

    def refer(self) -> None:
        """Amber (green + red together) blinking three times, one short beep."""
        events: list[Event] = []
        for i in range(3):
            for name in ("green", "red"):
                events += [(i * 0.6, name, True), (i * 0.6 + 0.3, name, False)]
        self.play("refer", events + _beeps(1, on_s=0.05))

    def fever(self) -> None:
        """Red on with one long beep."""
        self.play("fever", [(0.0, "red", True), (SHOW_S, "red", False),
                            *_beeps(1, on_s=1.0)])

    def open_gate(self, seconds: float) -> None:
        """Pulse the gate relay for *seconds*; the indication is left as it is.

        A pulse already running is extended to end *seconds* from now if that is
        later; it is never shortened.
        """
        self._check_seconds(seconds)
        if self._pulses_in_turn:  # no clock to tell how far it got: let it end first
            self._join(self._relay_worker)
        with self._lock:
            if self._closed:
                return
            self._relay_until = max(self._relay_until, self._clock() + seconds)
            self.relay.on()
            if self._relay_worker is None:
                self._relay_worker = threading.Thread(target=self._hold_relay,
                                                      name="signals-relay", daemon=True)
                self._relay_worker.start()

    @staticmethod
    def _check_seconds(seconds: float) -> None:
        if not 0 < seconds <= 60:
            raise ValueError(f"gate open time must be in (0, 60] s, got {seconds}")

    # -- gate pulse ----------------------------------------------------------
    def _hold_relay(self) -> None:
        """Keep the relay on until the pulse end (which may move later), then off."""
        try:
            while (left := self._pulse_left()) > 0:
                self._relay_sleep(left)
        finally:  # a failing sleep must not leave the gate open either
            with self._lock:
                if self._relay_worker is threading.current_thread():
                    self._end_pulse()

    def _pulse_left(self) -> float:
        """Seconds the relay still stays on; at the end, switch it off (one locked step,
        so a pulse asked for meanwhile either extends this one or starts a new one)."""
        with self._lock:
            left = 0.0 if self._closed else self._relay_until - self._clock()
            if left <= 0:
                self._end_pulse()
            return left

    def _end_pulse(self) -> None:
        self._relay_worker = None
        if not self._closed:
            self.relay.off()

    # -- indication ----------------------------------------------------------
    def play(self, name: str, events: Iterable[Event]) -> None:
        """Cancel the running indication (LEDs, buzzer off) and start *events* in background.

        The relay is not part of an indication: pulse it with :meth:`open_gate`.
        """
        steps = timeline(events)
        unknown = {n for changes, _ in steps for n in changes} - set(self.INDICATORS)
        if unknown:
            raise ValueError(f"unknown outputs {sorted(unknown)}"
                             + ("; pulse the relay with open_gate()" if "relay" in unknown else ""))
        with self._lock:
            if self._closed:
                return
            self._cancel.set()  # the running indication stops before its next step
            self._cancel = cancel = threading.Event()
            self._switch_off(self.INDICATORS)
            self._pattern = name
            self._worker = threading.Thread(target=self._run, args=(steps, cancel),
                                            name=f"signals-{name}", daemon=True)
            self._worker.start()

    def _run(self, steps: list[Step], cancel: threading.Event) -> None:
        for changes, hold in steps:
            with self._lock:
                if cancel.is_set():
                    return
                for output, on in changes.items():
                    getattr(self, output).value = on
            if hold:
                self._sleep(hold) if self._sleep is not None else cancel.wait(hold)
        with self._lock:
            if not cancel.is_set():
                self._pattern = None

    def _switch_off(self, outputs: Iterable[str]) -> None:
        for output in outputs:
            device = getattr(self, output, None)
            if device is not None and not device.closed:
                device.off()

    def wait(self, timeout: float | None = None, *, relay: bool = True) -> bool:
        """Block until the indication and (with *relay*) the gate pulse ended; True if so."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in (self._worker, self._relay_worker if relay else None):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._join(worker, left):
                return False
        return True

    @staticmethod
    def _join(worker: threading.Thread | None, timeout: float | None = None) -> bool:
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    # -- button and status ---------------------------------------------------
    def on_button(self, callback: Callable[[], Any] | None) -> None:
        """Call *callback()* when the button is pressed (None to remove)."""
        if self.button is None:
            raise ValueError("no button pin configured")

        def pressed() -> None:
            try:
                callback()  # type: ignore[misc]
            except Exception:  # a handler bug must not kill gpiozero's thread
                log.exception("button callback failed")

        self.button.when_pressed = None if callback is None else pressed

    def state(self) -> dict[str, Any]:
        """Current output/button states for the status page (pattern: the indication)."""
        if self._closed:
            return {"closed": True}
        states: dict[str, Any] = {n: bool(getattr(self, n).value) for n in self.OUTPUTS}
        states["button"] = None if self.button is None else bool(self.button.is_pressed)
        states["pattern"] = self._pattern
        return states

    def close(self) -> None:
        """Relay off at once, stop the indication, release pins; idempotent.

        Workers still asleep find everything closed when they wake and touch nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cancel.set()
            self._closing.set()
            self._switch_off(("relay", *self.INDICATORS))
            self._close_devices()

    def _close_devices(self) -> None:
        for device in self._devices:
            device.close()

    def __enter__(self) -> "Signals":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_signals(pins: Mapping[str, Any], pin_factory: Any = None,
                 **kwargs: Any) -> Signals:
    """Build :class:`Signals` from config such as
    ``{"green": 17, "red": 27, "buzzer": 22, "relay": 23, "button": 24}``.

    ``pins["relay_active_high"]`` is honoured; ``pin_factory="mock"`` (or
    ``pins["factory"] == "mock"``) uses gpiozero's ``MockFactory`` for a desk demo.
    """
    missing = [k for k in Signals.OUTPUTS if k not in pins]
    if missing:
        raise ValueError(f"signal pin config lacks {', '.join(missing)}")
    factory = pin_factory if pin_factory is not None else pins.get("factory")
    if factory == "mock":
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    return Signals(pins["green"], pins["red"], pins["buzzer"], pins["relay"],
                   button_pin=pins.get("button"),
                   relay_active_high=pins.get("relay_active_high", True),
                   pin_factory=factory, **kwargs)
