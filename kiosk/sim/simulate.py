"""A scripted day at the gate, played through the real scan loop.

Pass QR codes are rendered from real issued tokens of the demo community
(segno, hardware.frames) into camera frames with the degradations of a cheap
gate camera; empty frames in between let the debouncer see the code leave.
The "in" lane's fake thermometer is scripted per step (a fever, an implausible
reading that is measured again). Lanes run on FrameListCamera-like cameras
and gpiozero MockFactory pins; the events land in the gate database exactly
as in real use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardware.camera import FrameListCamera
from hardware.decoder import make_decoder
from hardware.frames import compose_frame
from hardware.thermometer import FakeThermometer
from kiosk.core.clock import SystemClock
from kiosk.gate.lane import Lane, LaneResult
from kiosk.gate.runner import Runner
from kiosk.gate.wiring import build_lane, lane_specs
from kiosk.sim.demo import DemoCommunity
from kiosk.store.config import load_config

__all__ = ["STEPS", "SimCamera", "Step", "build_simulation", "expected_events"]

FRAME_S = 0.1  # simulated time between frames (10 fps)
HOLD_FRAMES = 3  # frames a code is held in view: read once
GAP_FRAMES = 14  # empty frames after it: 1.4 s > the debouncer's gone_s
SIZE = (640, 480)
SAMPLES = 5  # thermometer readings per measurement


@dataclass(frozen=True)
class Step:
    """One presentation: who, at which lane, how the frame looks, what the sensor says."""

    lane: str
    role: str
    degradation: tuple[str, ...]
    temperatures: tuple[float, ...] = ()  # one value per measurement (re-measures included)
    outcome: str | None = None  # None: the code cannot be read, no event
    codes: tuple[str, ...] = ()


STEPS = (
    Step("in", "quarantined", ("too_blurred",)),
    Step("in", "resident", ("plain",), (36.5,), "allow"),
    Step("in", "vehicle", ("tilt",), (36.5,), "deny", ("vehicle_pass_alone",)),  # 人车同检: never alone
    Step("in", "monitored", ("glare",), (36.7,), "allow", ("health_monitoring",)),
    Step("in", "second_resident", ("blur",), (38.1,), "deny", ("fever",)),
    Step("in", "revoked", ("dark_mode",), (36.4,), "deny", ("revoked",)),
    Step("in", "household_member", ("low_contrast",), (25.0, 36.6), "allow"),
    Step("out", "isolated", ("plain",), (), "deny", ("home_isolation",)),
    Step("out", "household_member", ("motion",), (), "allow"),
    Step("out", "resident", ("tilt", "glare"), (), "deny", ("household_quota",)),
)


def expected_events(steps=STEPS) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """Per lane, the (role, outcome, codes) of the events a fresh community gets."""
    out: dict[str, list] = {}
    for step in steps:
        if step.outcome is not None:
            out.setdefault(step.lane, []).append((step.role, step.outcome, step.codes))
    return out


class SimCamera(FrameListCamera):
    """Frames with a simulated frame clock and actions run when a frame is served.

    ``frame_time()`` is the lane's monotonic time (FRAME_S per frame), so the
    debouncer behaves the same whether frames are paced in real time or not.
    """

    def __init__(self, frames: list[np.ndarray], actions: dict[int, Callable[[], Any]],
                 realtime: bool = False, loop: bool = False) -> None:
        super().__init__(frames, fps=1 / FRAME_S if realtime else None, loop=loop)
        self._actions = actions
        self._served = 0
        self.hung = False

    def hang(self) -> None:
        """Demo/test hook: every later frame read blocks, like a wedged camera driver."""
        self.hung = True

    def frame_time(self) -> float:
        return self._served * FRAME_S

    def _load(self, index: int) -> np.ndarray | None:
        while self.hung and not self.closed:  # the watchdog must notice, not us
            time.sleep(0.05)
        self._served += 1
        action = self._actions.get(index)
        if action is not None:
            action()
        return super()._load(index)


def _frame_decoding_to(token: str, degradation: tuple[str, ...], seed: int, decoder: Any,
                       allowed: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """The first frame (by seed) whose decoding is one of ``allowed``.

    A heavily degraded frame can be misread as another text; the scenario never uses such
    a frame, so its events are exactly the scripted ones.
    """
    for attempt in range(seed, seed + 200):
        frame = compose_frame(token, SIZE, degradation, attempt)
        if tuple(decoder.decode(frame)) in allowed:
            return frame
    raise RuntimeError(f"no usable frame for {degradation} near seed {seed}")


def lane_frames(steps: list[Step], tokens: dict[str, str], thermometer: FakeThermometer | None,
                seed: int = 7) -> tuple[list[np.ndarray], dict[int, Callable[[], Any]]]:
    """The frame list of one lane and the thermometer script actions."""
    decoder = make_decoder("zxing")
    empty = [compose_frame(None, SIZE, "plain", seed + i) for i in range(4)]
    frames: list[np.ndarray] = [empty[0]] * 3
    actions: dict[int, Callable[[], Any]] = {}
    for number, step in enumerate(steps):
        token = tokens[step.role]
        readable = step.outcome is not None
        base = seed * 1000 + number * 50
        if step.temperatures and thermometer is not None:
            script = [v for value in step.temperatures for v in [value] * SAMPLES]
            actions[len(frames)] = lambda s=script: thermometer.script(s)
        first = ((token,),) if readable else ((),)  # read at once, or (too blurred) not at all
        frames.append(_frame_decoding_to(token, step.degradation, base, decoder, first))
        held = [_frame_decoding_to(token, step.degradation, base + 100 + i * 200, decoder, ((token,), ()))
                for i in range(HOLD_FRAMES - 1)]  # held in view: read again or not, never misread
        frames += held if readable else []
        frames += [empty[i % len(empty)] for i in range(GAP_FRAMES)]
    return frames, actions


def build_simulation(community: DemoCommunity, *, realtime: bool = False, loop: bool = False,
                     steps=STEPS, clock: Any = None, measure_sleep: Callable | None = None,
                     signals_for: Callable[[str], Any] | None = None,
                     on_result: Callable[[LaneResult], Any] | None = None) -> list[Lane]:
    """The gate's configured lanes, fed with the scenario's frames and fake sensors.

    *signals_for(lane_id)* may supply each lane's Signals (tests watch the pins).
    """
    config = load_config(community.gate_home)
    # The scenario's decisions assume a right clock: a desk or CI machine without NTP must not
    # turn its quota refusal into `clock_unsynced` (docs/resilience.md).
    clock = clock or SystemClock(status=lambda: True)
    lanes = []
    for spec in lane_specs(config):
        own = [s for s in steps if s.lane == spec.id]
        thermometer = FakeThermometer(None) if spec.require_temperature else None
        frames, actions = lane_frames(own, community.tokens, thermometer)
        camera = SimCamera(frames, actions, realtime=realtime, loop=loop)
        options = {"signals": signals_for(spec.id)} if signals_for is not None else {}
        lane = build_lane(spec, config, simulate=True, clock=clock, camera=camera,
                          thermometer=thermometer, mono=camera.frame_time,
                          sleep=measure_sleep or (lambda s: None), remeasure_pause_s=0.0,
                          measure_samples=SAMPLES, on_result=on_result, **options)
        lanes.append(lane)
    return lanes


def run_simulation(community: DemoCommunity, *, realtime: bool, once: bool,
                   on_result: Callable[[LaneResult], Any] | None = None,
                   runner_options: dict | None = None
                   ) -> tuple[Runner, Callable[[], bool] | None]:
    """Play the scenario through a Runner: once (until every lane's frames end) or looping."""
    lanes = build_simulation(community, realtime=realtime, loop=not once, on_result=on_result)
    runner = Runner(lanes, **(runner_options or {}))
    return runner, (lambda: all(lane.source_ended for lane in lanes)) if once else None
