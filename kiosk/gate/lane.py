"""One lane of the gate: code -> (temperature) -> decision -> event -> signal.

A :class:`Lane` receives its devices ready-made (gpiozero style; see
kiosk/lanes.py for building them from ``kiosk.toml``) and its own :class:`Gate`
(its own SQLite connection), so lanes run in separate threads and one failing
lane never stops another.

Order of a scan, which the crash-safety and full-disk rules depend on:

1. decode the frame (no database work at all on frames without a code);
2. debounce: a code held in view is handled once;
3. temperature when the lane requires it: the lane's
   sensor (median of several readings; an implausible one is measured again);
   a fresh reading typed by the guard on the web page only when the lane has no
   sensor or it failed, or when the guard typed it as this pass's re-measurement
   after a refusal. The event records which (``temperature_source``, ``temperature_by``);
4. ``Gate.check`` decides and writes the event durably (WAL, synchronous=FULL).
   At a vehicle lane (人车同检) a vehicle pass is held until its driver shows
   their own pass; ``Gate.check_vehicle`` then decides on both, one event.
   Elsewhere a vehicle pass alone is refused (``vehicle_pass_alone``);
5. only then the LEDs, buzzer and relay are driven.  If the event could not be
   stored (``NotRecorded``) the decision is still shown with a loud "not
   recorded" pattern, and the relay stays closed unless
   ``[gate] open_unrecorded = true``.

Every presentation (a code held up at a lane) carries a nonce kept in
``lane_presentations``: the same code at the same lane again within the
duplicate window is the same presentation, so a lane restarted after a crash
records nothing new and only finishes signalling what it had recorded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from hardware.debounce import Debouncer
from hardware.thermometer import Measurement, measure
from kiosk.core import passes
from kiosk.core.i18n import t
from kiosk.core.rules import Decision, Scan
from kiosk.gate.service import CheckResult, Gate, NotRecorded
from kiosk.gate.voice import prompt_for
from kiosk.store import lane_state
from kiosk.store.events import RecordingError

__all__ = ["Lane", "LaneResult"]

log = logging.getLogger(__name__)

ALARM_BEEPS = 6  # the "not recorded" alarm: six fast beeps, unlike any decision pattern
COMMAND_POLL_S = 0.2  # how often the loop looks for commands from the web page (one indexed query)


@dataclass(frozen=True)
class LaneResult:
    """What the lane did with one presented code."""

    lane: str
    payload: str
    source: str  # camera | scanner
    decision: Decision
    event: dict | None  # the stored event (the earlier one for a repeat), None if not recorded
    recorded: bool
    signal: str  # allow | deny | refer | fever | repeat | not_recorded | driver | none
    relay: bool  # the relay was asked to open
    measurement: Measurement | None = None
    error: str | None = None  # why the event was not recorded

    @property
    def outcome(self) -> str:
        return self.decision.outcome

    @property
    def codes(self) -> tuple[str, ...]:
        return self.decision.codes


@dataclass
class _Reading:
    """A temperature for one scan and where it came from."""

    value: float | None = None
    measurement: Measurement | None = None
    manual_id: int | None = None  # manual_readings row to mark consumed
    source: str = "none"  # sensor | typed | none
    typed_by: str | None = None  # the guard who typed it


@dataclass
class _Status:
    camera: str | None = None
    thermometer: str | None = None
    scanner: str | None = None
    alerts: dict[str, str] = field(default_factory=dict)
    last: str = ""  # message of the last decision ("ready" before the first)

    def detail(self) -> str:
        return "; ".join(self.alerts.values()) or self.last

    def row(self) -> tuple:
        return (self.camera, self.thermometer, self.scanner, self.detail())


class Lane:
    """A lane: its code sources, thermometer, signals and gate, run on one thread.

    ``process_frame(frame, now_mono)`` handles one camera frame;
    ``handle(payload, source)`` one code from any source; ``run(stop)`` is the
    loop; ``manual_open()`` is the guard/request-to-exit button.
    """

    def __init__(self, lane_id: str, direction: str, gate: Gate, *, camera: Any = None,
                 decoder: Any = None, scanner: Any = None, thermometer: Any = None,
                 signals: Any = None, proximity: Any = None, voice: Any = None,
                 require_temperature: bool = False, vehicle: bool = False, disinfection: bool = False,
                 vehicle_window_s: float = 60.0, debouncer: Debouncer | None = None,
                 open_seconds: float | None = None, open_unrecorded: bool | None = None,
                 measure_samples: int = 5, measure_window_s: float = 0.5,
                 remeasure_attempts: int = 2, remeasure_pause_s: float = 1.0,
                 manual_window_s: float = 60.0, read_timeout: float = 0.5,
                 status_interval_s: float = 10.0, button_stuck_s: float = 10.0,
                 sleep: Callable[[float], Any] | None = None,
                 mono: Callable[[], float] = time.monotonic, language: str | None = None,
                 on_result: Callable[[LaneResult], Any] | None = None) -> None:
        if direction not in ("in", "out"):
            raise ValueError(f"lane {lane_id}: direction must be 'in' or 'out', not {direction!r}")
        if camera is not None and decoder is None:
            raise ValueError(f"lane {lane_id}: a camera needs a decoder")
        gate_table = gate.config.settings.gate
        self.id, self.direction, self.gate = lane_id, direction, gate
        self.camera, self.decoder, self.scanner = camera, decoder, scanner
        self.thermometer, self.signals, self.proximity = thermometer, signals, proximity
        self.voice = voice  # spoken prompts (kiosk.gate.voice.Voice), None: silent
        self.require_temperature = require_temperature
        # a vehicle lane: a vehicle pass waits (vehicle_window_s) for its driver's own pass
        self.vehicle, self.disinfection, self.vehicle_window_s = vehicle, disinfection, vehicle_window_s
        self._held_vehicle: tuple[str, float] | None = None  # (token, mono time shown)
        self.debouncer = debouncer or Debouncer()
        self.open_seconds = float(open_seconds if open_seconds is not None else gate_table.open_seconds)
        self.open_unrecorded = bool(open_unrecorded if open_unrecorded is not None
                                    else gate_table.open_unrecorded)
        self.measure_samples, self.measure_window_s = measure_samples, measure_window_s
        self.remeasure_attempts, self.remeasure_pause_s = remeasure_attempts, remeasure_pause_s
        self.manual_window_s, self.read_timeout = manual_window_s, read_timeout
        self.status_interval_s, self.button_stuck_s = status_interval_s, button_stuck_s
        # run(stop) swaps in its stop event: the pauses between temperature readings then end
        # at once on SIGTERM, and the scan in hand finishes instead of holding up the shutdown
        self._stopping = threading.Event()
        self.sleep = sleep or (lambda seconds: self._stopping.wait(seconds))
        self.mono, self.language = mono, language
        self.on_result = on_result
        self.frames = 0
        self.results: list[LaneResult] = []
        self.beat = time.monotonic()  # last completed loop turn, for the watchdog
        self.status = _Status(thermometer=None if thermometer else "manual",
                              last=t("loop.status.ready", language))
        self._lock = threading.RLock()  # the button handler shares the gate connection
        self._written: tuple | None = None
        self._written_at = -1e9
        self._button_down_since: float | None = None
        self._commands_at = -1e9

    # --- one frame, one code --------------------------------------------------------

    def process_frame(self, frame: np.ndarray, now_mono: float) -> LaneResult | None:
        """Decode one frame and handle each newly presented code; the last result or None.

        Frames without a code cost the decode only: no debouncer, no database.
        """
        payloads = self.decoder.decode(frame)
        if not payloads:
            return None
        result = None
        for payload in self.debouncer.update(payloads, now_mono):
            result = self.handle(payload, "camera")
        return result

    def handle(self, payload: str, source: str = "camera") -> LaneResult:
        """Temperature, decision, durable event, then signals, for one presented code."""
        with self._lock:
            token = payload.strip()
            if self.vehicle and _is_vehicle(token):
                result = self._hold_vehicle(payload, source, token)
            else:
                result = self._decide(payload, source, token)
            self.status.last = result.decision.message(self.language or "zh")
            self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _decide(self, payload: str, source: str, token: str) -> LaneResult:
        reported = self.gate.now()
        presentation = self._presentation(token, reported)
        reading = self._temperature(token, reported)
        scan = Scan(direction=self.direction, token=token, temperature=reading.value,
                    temperature_required=self.require_temperature, lane=self.id,
                    source=source, nonce=presentation.nonce if presentation else None,
                    temperature_source=reading.source, temperature_by=reading.typed_by)
        try:
            checked = self._check(scan)
        except NotRecorded as exc:
            return self._unrecorded(payload, source, exc, reading)
        self.status.alerts.pop("not_recorded", None)
        self._consume(reading)
        return self._recorded(payload, source, checked.decision, checked.event, reading, presentation)

    def _check(self, scan: Scan) -> CheckResult:
        """A person alone, or the driver of the vehicle held at this lane: both decided in one event."""
        vehicle, self._held_vehicle = self._held_vehicle, None
        if vehicle is None or self.mono() - vehicle[1] > self.vehicle_window_s:
            return self.gate.check(scan, self.gate.now())
        vehicle_scan = Scan(direction=self.direction, token=vehicle[0], lane=self.id, source=scan.source)
        return self.gate.check_vehicle(vehicle_scan, scan, self.gate.now(),
                                       data={"vehicle_check": True, "disinfected": self.disinfection})

    def _hold_vehicle(self, payload: str, source: str, token: str) -> LaneResult:
        """A vehicle pass at a vehicle lane: nothing opens until the driver shows their own pass."""
        self._held_vehicle = (token, self.mono())
        waiting = Decision(outcome="refer", codes=(), message_zh=t("loop.vehicle.show_driver", "zh"),
                           message_en=t("loop.vehicle.show_driver", "en"))
        if self.signals is not None:
            self.signals.refer()
        return LaneResult(self.id, payload, source, waiting, None, False, "driver", False)

    def _presentation(self, token: str, now: datetime) -> lane_state.Presentation | None:
        """This presentation's nonce (None if the database cannot say: the scan still decides)."""
        rules = self.gate.rules()
        window = rules.duplicate_window_s if rules.severity["duplicate_scan"] != "off" else 0.0
        try:
            return lane_state.present(self.gate.db, self.id, token, now, window)
        except sqlite3.Error as exc:
            log.warning("lane %s: presentation not kept: %s", self.id, exc)
            return None

    def _recorded(self, payload: str, source: str, decision: Decision, event: dict | None,
                  reading: _Reading, presentation: lane_state.Presentation | None) -> LaneResult:
        # A lane that stopped between recording and signalling finishes what it recorded.
        first_showing = decision.duplicate_of is None or self._unfinished(presentation, event)
        if presentation is not None and not presentation.signalled:
            self._signalled(presentation)  # before the relay: a crash now never opens twice
        if first_showing:
            signal, relay = self._signal_decision(decision)
        else:  # already handled: never a second gate opening
            signal, relay = "repeat", False
            self._play("repeat", [(0.0, "buzzer", True), (0.05, "buzzer", False)])
        return LaneResult(self.id, payload, source, decision, event, True, signal, relay,
                          reading.measurement)

    @staticmethod
    def _unfinished(presentation: lane_state.Presentation | None, event: dict | None) -> bool:
        return (presentation is not None and not presentation.signalled and event is not None
                and event["nonce"] == presentation.nonce)

    def _signalled(self, presentation: lane_state.Presentation) -> None:
        try:
            lane_state.mark_signalled(self.gate.db, self.id, presentation.nonce, self.gate.now())
        except sqlite3.Error as exc:
            log.warning("lane %s: presentation not marked signalled: %s", self.id, exc)

    def _signal_decision(self, decision: Decision) -> tuple[str, bool]:
        if self.voice is not None:
            self.voice.say(prompt_for(decision.outcome, decision.codes))
        if decision.outcome == "allow":
            if self.signals is not None:
                self.signals.allow(self.open_seconds)
            return "allow", True
        signal = "fever" if decision.outcome == "deny" and "fever" in decision.codes \
            else decision.outcome
        if self.signals is not None:
            getattr(self.signals, signal)()
        return signal, False

    def _unrecorded(self, payload: str, source: str, exc: NotRecorded,
                    reading: _Reading) -> LaneResult:
        """Show the decision with the alarm; open only if configured to."""
        decision = exc.decision
        relay = decision.outcome == "allow" and self.open_unrecorded
        log.error("lane %s: event NOT recorded (%s): %s", self.id, exc, decision.message_en)
        self.status.alerts["not_recorded"] = t("loop.alert.not_recorded", self.language,
                                               reason=str(exc))
        self._alarm(decision.outcome == "allow", relay)
        return LaneResult(self.id, payload, source, decision, None, False, "not_recorded",
                          relay, reading.measurement, str(exc))

    def _alarm(self, green: bool, relay: bool) -> None:
        """The loud "not recorded" pattern: six fast beeps with the decision's colour."""
        events = [(0.0, "green" if green else "red", True), (2.0, "green" if green else "red", False)]
        for i in range(ALARM_BEEPS):
            events += [(i * 0.1, "buzzer", True), (i * 0.1 + 0.05, "buzzer", False)]
        self._play("not_recorded", events)
        if relay and self.signals is not None:
            self.signals.open_gate(self.open_seconds)

    def _play(self, name: str, events: list) -> None:
        if self.signals is not None:
            self.signals.play(name, events)

    # --- temperature ------------------------------------------------------------------

    def _temperature(self, token: str, now: datetime) -> _Reading:
        """The sensor's reading; a typed one only when the sensor is missing or failed, or when
        the guard typed it as this pass's re-measurement after a refusal."""
        if not self.require_temperature:
            return _Reading()
        pass_id = _claimed_pass_id(token)
        remeasured = self._manual_reading(now, pass_id) if pass_id else None
        if remeasured is not None:
            return remeasured
        if self.thermometer is None:  # no typed reading either: the rules say temperature_missing
            return self._manual_reading(now) or _Reading()
        measurement = self._measure()
        if measurement.status in ("ok", "implausible"):
            return _Reading(measurement.value, measurement, source="sensor")
        return self._manual_reading(now) or _Reading(measurement=measurement)  # the sensor failed

    def _measure(self) -> Measurement:
        """Measure; an implausible value (not a forehead) is measured again."""
        plausible = self._plausible()
        for attempt in range(self.remeasure_attempts + 1):
            self._wait_for_person()
            measurement = measure(self.thermometer, self.measure_samples, self.measure_window_s,
                                  plausible, sleep=self.sleep)
            self.status.thermometer = _describe(measurement)
            if measurement.status != "implausible" or attempt == self.remeasure_attempts:
                break
            self.status.alerts["remeasure"] = t("loop.alert.remeasure", self.language,
                                                value=measurement.value)
            if self.signals is not None:
                self.signals.refer()
                if not self._stopping.is_set():  # the person must see "measure again"
                    self.signals.wait(self.remeasure_pause_s + 2, relay=False)
            self.sleep(self.remeasure_pause_s)
        self.status.alerts.pop("remeasure", None)
        return measurement

    def _wait_for_person(self, limit_s: float = 2.0, step_s: float = 0.1) -> None:
        """With a distance sensor, measure once someone stands close (or after limit_s)."""
        if self.proximity is None:
            return
        for _ in range(int(limit_s / step_s)):
            if self.proximity.present():
                return
            self.sleep(step_s)

    def _plausible(self) -> tuple[float, float]:
        rules = self.gate.rules()
        return rules.plausible_min, rules.plausible_max

    def _manual_reading(self, now: datetime, remeasured_pass: str | None = None) -> _Reading | None:
        """The newest fresh unconsumed reading the guard typed for this lane: with
        ``remeasured_pass``, one bound to that pass's refusal; else one bound to nothing."""
        try:
            rows = lane_state.unconsumed_readings(self.gate.db, self.id)
        except sqlite3.Error as exc:
            log.warning("lane %s: manual readings unavailable: %s", self.id, exc)
            return None
        oldest = now - timedelta(seconds=self.manual_window_s)
        for row in rows:
            if (row["remeasure_of"] is not None, row["remeasure_pass_id"]) != \
                    (remeasured_pass is not None, remeasured_pass):
                continue
            when = _parse_when(row["entered_utc"])
            if when is not None and oldest <= when <= now + timedelta(seconds=5):
                value = float(row["value"])
                low, high = self._plausible()
                measurement = Measurement(value, "ok" if low <= value <= high else "implausible", (value,))
                self.status.thermometer = "manual " + _describe(measurement)
                return _Reading(value, measurement, row["id"], "typed", row["guard_id"])
        return None

    def _consume(self, reading: _Reading) -> None:
        """Mark a typed reading used, after its event is stored (a crash keeps it usable)."""
        if reading.manual_id is None:
            return
        try:
            lane_state.consume_reading(self.gate.db, reading.manual_id, self.gate.now())
        except sqlite3.Error as exc:
            log.warning("lane %s: could not mark manual reading used: %s", self.id, exc)

    # --- guard button -------------------------------------------------------------------

    def manual_open(self) -> dict | None:
        """The guard / request-to-exit button: record ``manual_open``, then open the gate."""
        with self._lock:
            try:
                event = self.gate.record("manual_open", self.gate.now(), lane=self.id,
                                         direction=self.direction, data={"source": "button"})
            except RecordingError as exc:
                log.error("lane %s: manual open NOT recorded: %s", self.id, exc)
                self.status.alerts["not_recorded"] = t("loop.alert.not_recorded", self.language,
                                                       reason=str(exc))
                self._alarm(True, self.open_unrecorded)
                return None
            self.status.alerts.pop("not_recorded", None)
        if self.signals is not None:
            self.signals.open_gate(self.open_seconds)
        return event

    # --- commands from the web process -------------------------------------------------

    def poll_commands(self) -> int:
        """Open the gate for overrides made on the touchscreen, sound the refusal for a face
        mismatch tapped there (at most every COMMAND_POLL_S).

        The web process owns no GPIO: it records the override and, in the same transaction,
        a ``lane_commands`` row, so the event is durable before the relay moves. Returns how
        many commands were carried out.
        """
        if time.monotonic() - self._commands_at < COMMAND_POLL_S:
            return 0
        self._commands_at = time.monotonic()
        with self._lock:
            try:
                pending = lane_state.pending_commands(self.gate.db, self.id)
                for command_id, kind, created in pending:
                    if kind == "alarm":
                        self._alarm_for(command_id, created)
                    else:
                        self._open_for(command_id, created)
            except sqlite3.Error as exc:
                log.warning("lane %s: lane commands unavailable: %s", self.id, exc)
                return 0
        return len(pending)

    def _open_for(self, command_id: int, created_utc: str) -> None:
        now = self.gate.now()
        if lane_state.command_stale(created_utc, now):
            lane_state.finish_command(self.gate.db, command_id, "expired", now)
            return
        # Marked done before the relay moves: a database that refuses the mark (full disk) never
        # gets the gate opened again and again by the next polls.
        lane_state.finish_command(self.gate.db, command_id, "opened", self.gate.now())
        if self.signals is not None:
            self.signals.open_gate(self.open_seconds)

    def _alarm_for(self, command_id: int, created_utc: str) -> None:
        """The refusal's red light, beeps and voice for a refusal made on the screen."""
        now = self.gate.now()
        if lane_state.command_stale(created_utc, now):
            lane_state.finish_command(self.gate.db, command_id, "expired", now)
            return
        lane_state.finish_command(self.gate.db, command_id, "sounded", now)
        if self.voice is not None:
            self.voice.say(prompt_for("deny", ("face_mismatch",)))
        if self.signals is not None:
            self.signals.deny()

    # --- the loop -----------------------------------------------------------------------

    @property
    def source_ended(self) -> bool:
        """True when a finite source (simulation) has nothing more to give."""
        return self.camera is not None and self.camera.health.state == "ended" \
            and self.scanner is None

    def step(self, stop: threading.Event) -> bool:
        """One turn: at most one frame and one scanner code; True if anything arrived."""
        busy = False
        if self.camera is not None:
            frame = self.camera.read(timeout=self.read_timeout)
            if frame is not None:
                busy = True
                self.frames += 1
                self.process_frame(frame, self.mono())
        if self.scanner is not None:
            payload = self.scanner.read(timeout=0 if self.camera is not None else self.read_timeout)
            if payload:
                busy = True
                self.handle(payload, "scanner")
        if not busy:
            stop.wait(0.02 if self.camera is not None or self.scanner is not None
                      else self.read_timeout)  # a finished or absent source must not spin
        return busy

    def run(self, stop: threading.Event) -> None:
        """Loop until *stop* is set. No exception of one frame ends the loop."""
        self._stopping = stop
        self.update_status(force=True)
        while not stop.is_set():
            try:
                self.step(stop)
                self.poll_commands()
                self.status.alerts.pop("error", None)
            except Exception as exc:  # a bad frame, a driver bug, a locked database
                log.exception("lane %s: frame failed", self.id)
                self.status.alerts["error"] = t("loop.alert.error", self.language,
                                                error=f"{type(exc).__name__}: {exc}")
                stop.wait(0.2)
            self.beat = time.monotonic()
            self.update_status()
        self.update_status(force=True)

    # --- status -------------------------------------------------------------------------

    def refresh_status(self) -> _Status:
        """Read device health into the in-memory status."""
        self.status.camera = None if self.camera is None else str(self.camera.health)
        self.status.scanner = None if self.scanner is None else str(self.scanner.health)
        button = getattr(self.signals, "button", None)
        if button is not None and not button.closed and button.is_pressed:
            self._button_down_since = self._button_down_since or time.monotonic()
            if time.monotonic() - self._button_down_since >= self.button_stuck_s:
                self.status.alerts["button"] = t("loop.alert.button_stuck", self.language)
        else:
            self._button_down_since = None
            self.status.alerts.pop("button", None)
        return self.status

    def update_status(self, force: bool = False) -> bool:
        """Write lane_status when it changed or every status_interval_s; True if written."""
        row = self.refresh_status().row()
        due = time.monotonic() - self._written_at >= self.status_interval_s
        if not force and row == self._written and not due:
            return False
        with self._lock:
            try:
                lane_state.write_lane_status(self.gate.db, self.id, row, self.gate.now())
            except sqlite3.Error as exc:  # full disk: the in-memory status still says it
                log.warning("lane %s: lane_status not written: %s", self.id, exc)
                return False
        self._written, self._written_at = row, time.monotonic()
        return True

    def close(self) -> None:
        """Release the lane's own devices and gate (signals may be shared: the runner closes them)."""
        for device in (self.camera, self.scanner, self.thermometer, self.proximity, self.voice):
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing a dead device must not stop the others
                    log.exception("lane %s: closing %r failed", self.id, device)
        self.gate.close()


def _is_vehicle(token: str) -> bool:
    """Peek at the (unverified) claims: a vehicle lane holds vehicle passes. Verification comes later."""
    try:
        parsed = passes.parse(token)
    except Exception:  # noqa: BLE001 - whatever was scanned, the rules decide on it
        return False
    return parsed is not None and parsed[2].subject_kind == "vehicle"


def _claimed_pass_id(token: str) -> str | None:
    """The pass id the token claims (unverified: it only picks the guard's typed re-measurement)."""
    try:
        parsed = passes.parse(token)
    except Exception:  # noqa: BLE001 - whatever was scanned, the rules decide on it
        return None
    return parsed[2].pass_id if parsed else None


def _describe(measurement: Measurement) -> str:
    if measurement.value is not None:
        return f"{measurement.status} {measurement.value:.1f}"
    if measurement.errors:
        return f"{measurement.status}: {measurement.errors[-1]}"
    return measurement.status


def _parse_when(text: str | None) -> datetime | None:
    """A stored UTC time ('...Z', '+00:00' or SQLite's 'YYYY-MM-DD HH:MM:SS')."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
