"""Lane signals: green/red LEDs, buzzer, gate relay and an optional button.

Built on gpiozero devices created from configured pin numbers and a pin
factory (real on the Pi, ``MockFactory`` in tests, ``"mock"`` in config for a
desk demo).  Each outcome is a deterministic *pattern*: a timeline of pin
changes played by a worker thread through an injectable ``sleep``, so tests
assert exact pin sequences and durations without waiting.  Starting a new
pattern cancels the running one and switches everything off first; the relay
is therefore never left energised by an interrupted pattern.
"""

from __future__ import annotations

import logging
import threading
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


class Signals:
    """The lane's outputs and the request-to-exit/guard button.

    *sleep* plays pattern holds; the default is a wait that a new pattern or
    ``close()`` interrupts at once.  Tests pass a recording function.
    """

    OUTPUTS = ("green", "red", "buzzer", "relay")

    def __init__(self, green_pin: int | str, red_pin: int | str, buzzer_pin: int | str,
                 relay_pin: int | str, button_pin: int | str | None = None,
                 relay_active_high: bool = True, pin_factory: Any = None,
                 sleep: Callable[[float], Any] | None = None) -> None:
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
        self._cancel = threading.Event()
        self._sleep = sleep or self._cancel.wait
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._pattern: str | None = None
        self._closed = False

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    # -- outcomes ------------------------------------------------------------
    def allow(self, open_s: float = 5.0) -> None:
        """Green on and one short beep; relay pulsed for exactly *open_s*."""
        self._check_seconds(open_s)
        events = [(0.0, "green", True), (0.0, "relay", True),
                  (open_s, "relay", False), (open_s, "green", False)]
        self.play("allow", events + _beeps(1, on_s=min(BEEP_S, open_s)))

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
        """Pulse only the gate relay for *seconds* (guard override)."""
        self._check_seconds(seconds)
        self.play("open_gate", [(0.0, "relay", True), (seconds, "relay", False)])

    @staticmethod
    def _check_seconds(seconds: float) -> None:
        if not 0 < seconds <= 60:
            raise ValueError(f"gate open time must be in (0, 60] s, got {seconds}")

    # -- pattern engine ------------------------------------------------------
    def play(self, name: str, events: Iterable[Event]) -> None:
        """Cancel the running pattern (all off) and start *events* in background."""
        steps = timeline(events)
        unknown = {n for changes, _ in steps for n in changes} - set(self.OUTPUTS)
        if unknown:
            raise ValueError(f"unknown outputs {sorted(unknown)}")
        with self._lock:
            if self._closed:
                return
            self._stop_worker()
            self._cancel.clear()
            self._pattern = name
            self._worker = threading.Thread(target=self._run, args=(steps,),
                                            name=f"signals-{name}", daemon=True)
            self._worker.start()

    def _run(self, steps: list[Step]) -> None:
        for changes, hold in steps:
            if self._cancel.is_set():
                break
            for output, on in changes.items():
                getattr(self, output).value = on
            if hold:
                self._sleep(hold)
        self._pattern = None

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._cancel.set()
            self._worker.join()
            self._worker = None
        self._all_off()

    def _all_off(self) -> None:
        for output in self.OUTPUTS:
            device = getattr(self, output, None)
            if device is not None and not device.closed:
                device.off()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running pattern finished; True if it did."""
        worker = self._worker
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
        """Current output/button states for the status page."""
        if self._closed:
            return {"closed": True}
        states: dict[str, Any] = {n: bool(getattr(self, n).value) for n in self.OUTPUTS}
        states["button"] = None if self.button is None else bool(self.button.is_pressed)
        states["pattern"] = self._pattern
        return states

    def close(self) -> None:
        """Stop patterns, switch everything off and release pins; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_worker()
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
