"""Lanes from ``kiosk.toml``: build the devices of each checked ``[[lanes]]`` table.

Nothing is opened at import; ``build_lane`` opens a lane's devices and hands them
to a :class:`kiosk.gate.lane.Lane` (gpiozero style). Example configuration::

    [signals]                 # shared by lanes without their own `signals`
    pin_factory = "lgpio"     # "mock" for a desk demo; absent = gpiozero's default
    green = 17
    red = 27
    buzzer = 22
    relay = 23
    button = 24

    [[lanes]]
    id = "in"
    direction = "in"
    require_temperature = true
    camera = {kind = "opencv", source = 0, width = 640, height = 480}
    scanner = {kind = "evdev", device = "/dev/input/by-id/usb-scanner-event-kbd"}
    thermometer = {kind = "mlx90614", bus = 1, address = 0x5A, offset = 0.0}
    decoder = "zxing"
"""

from __future__ import annotations

import atexit
import functools
import logging
import sys
from collections.abc import Iterable
from typing import Any

from hardware.debounce import Debouncer
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate
from kiosk.store.config import Config, ConfigError
from kiosk.store.settings import LaneTable, PinsTable, SignalsTable

__all__ = ["DEFAULT_PINS", "LaneSpec", "build_lane", "build_lanes", "lane_specs",
           "open_signals", "open_thermometer", "pin_factory"]

log = logging.getLogger(__name__)

DEFAULT_PINS = PinsTable().as_dict()
LaneSpec = LaneTable  # one checked ``[[lanes]]`` entry (kiosk/store/settings.py)


def lane_specs(config: Config) -> list[LaneTable]:
    """The configured lanes (their keys were checked when the file was read); ids unique."""
    lanes, seen = config.settings.lanes, set()
    for lane in lanes:
        if not lane.id or lane.id in seen:
            raise ConfigError(f"every lane needs a unique id (got {lane.id!r})")
        seen.add(lane.id)
    return lanes


# --- devices ---------------------------------------------------------------------------

def open_camera_spec(spec: Any, **overrides: Any):
    """A camera from its table (kiosk/store/settings.py); *overrides* replace its keys."""
    from hardware.camera import open_camera

    return open_camera({**spec.as_dict(), **overrides})


def open_scanner(spec: Any):
    from hardware.scanner import EvdevScanner, StreamScanner

    if spec.kind == "stdin":
        return StreamScanner(sys.stdin)
    return EvdevScanner(spec.device)


def open_thermometer(spec: Any, simulate: bool = False):
    """A thermometer object, or None for manual entry on the web page."""
    from hardware.thermometer import MLX90614, FakeThermometer

    if spec.kind == "manual":
        return None
    if spec.kind == "fake":
        return FakeThermometer(spec.value)
    if simulate:  # a desk demo has no I2C bus
        return FakeThermometer()
    return MLX90614.open(spec.bus, address=spec.address, offset=spec.offset,
                         ambient_compensation=spec.ambient_compensation)


def pin_factory(name: str | None):
    """gpiozero pin factory by name: "mock", a factory name like "lgpio", or None (default).

    A real factory is made once per process and shared by every lane, as gpiozero's own
    default is: each one holds a handle on the GPIO chip. Mock factories are per caller,
    so simulated lanes can use the same pin numbers.
    """
    if name in (None, "", "default"):
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    return _shared_factory(name.lower())


@functools.cache
def _shared_factory(name: str):
    from importlib.metadata import entry_points

    for entry in entry_points(group="gpiozero_pin_factories"):
        if entry.name == name:
            factory = entry.load()()
            atexit.register(factory.close)
            return factory
    raise ConfigError(f"unknown GPIO pin factory {name!r} (try lgpio, rpigpio, mock)")


def open_signals(pins: PinsTable, factory_name: str | None, **kwargs: Any):
    """The LEDs, buzzer, relay and button on *pins* (a ``[signals]`` or a lane's pins table)."""
    from hardware.signals import make_signals

    wanted = {name: value for name, value in pins.as_dict().items() if name != "pin_factory"}
    return make_signals(wanted, pin_factory=pin_factory(factory_name), **kwargs)


def open_proximity(spec: Any, factory_name: str | None):
    from gpiozero import DistanceSensor

    from hardware.thermometer import ProximityTrigger

    sensor = DistanceSensor(echo=spec.echo, trigger=spec.trigger,
                            pin_factory=pin_factory(factory_name))
    return ProximityTrigger(sensor, spec.threshold_m)


def _signals_settings(config: Config, simulate: bool) -> tuple[SignalsTable | None, str | None]:
    """The shared pins (none configured: None; a simulation always has them) and the factory."""
    table = config.settings.signals
    if simulate:
        return table or SignalsTable(), "mock"
    return table, table.pin_factory if table else None


def _open(what: str, opener, problems: dict[str, str]):
    """Open one device; on failure note it and return None (the lane degrades, others go on)."""
    try:
        return opener()
    except Exception as exc:  # missing /dev node, absent driver, bad settings
        problems[what] = f"{what}: {type(exc).__name__}: {exc}"
        return None


def _close_all(devices: Iterable[Any]) -> None:
    """Close devices after a failed start; one failing close must not keep the others open."""
    for device in devices:
        if device is not None:
            try:
                device.close()
            except Exception:
                log.exception("closing %r failed", device)


def _open_devices(spec: LaneTable, config: Config, simulate: bool, problems: dict[str, str], *,
                  camera: Any, thermometer: Any, signals: Any) -> dict[str, Any]:
    """Open the configured devices the caller did not supply; {name: device} of those opened."""
    shared_pins, factory = _signals_settings(config, simulate)
    opened: dict[str, Any] = {}
    if camera is None and spec.camera is not None and not simulate:
        opened["camera"] = _open("camera", lambda: open_camera_spec(spec.camera), problems)
    if spec.scanner and not simulate:
        opened["scanner"] = _open("scanner", lambda: open_scanner(spec.scanner), problems)
    if thermometer is None:
        opened["thermometer"] = _open("thermometer",
                                      lambda: open_thermometer(spec.thermometer, simulate), problems)
    if signals is None and (spec.signals is not None or simulate):
        pins = spec.signals if spec.signals is not None else shared_pins
        opened["signals"] = _open("signals", lambda: open_signals(pins, factory), problems)
    if spec.proximity and not simulate:
        opened["proximity"] = _open("proximity", lambda: open_proximity(spec.proximity, factory),
                                    problems)
    if config.settings.voice.enabled and not simulate:
        opened["voice"] = _open("voice", lambda: open_voice(config), problems)
    return opened


def open_voice(config: Config):
    """The lane's spoken prompts on aplay, every prompt's WAV made (or found cached) now."""
    from hardware.audio import AplayAudio
    from kiosk.gate.voice import Voice

    table = config.settings.voice
    voice = Voice(AplayAudio(table.device), config.home / "voice", config.settings.language,
                  max(0, min(200, table.volume)))
    voice.prepare()
    return voice


def build_lane(lane_config: dict | LaneTable, config: Config, simulate: bool = False, *,
               clock: Any = None, signals: Any = None, camera: Any = None,
               thermometer: Any = None, **lane_options: Any) -> Lane:
    """Open the devices of one lane and return its :class:`Lane` with its own Gate.

    *signals*, *camera* and *thermometer* given here are used instead of the
    configured ones (shared signals, simulated frames). With *simulate*, the
    lane uses mock GPIO pins and a fake thermometer instead of I2C. A device
    that cannot be opened is left out and named in the lane's status: the lane
    then works with what it has (at worst: manual checks on the web page).
    If the lane cannot be built, the devices opened here are closed again.
    """
    spec = lane_config if isinstance(lane_config, LaneTable) else \
        Config.from_data(config.home, {**config.data, "lanes": [lane_config]}).settings.lanes[0]
    problems: dict[str, str] = {}
    opened = _open_devices(spec, config, simulate, problems, camera=camera,
                           thermometer=thermometer, signals=signals)
    devices = {"camera": camera, "scanner": None, "thermometer": thermometer, "signals": signals,
               "proximity": None, "voice": None, **opened}
    try:
        decoder = None
        if devices["camera"] is not None:
            from hardware.decoder import make_decoder

            decoder = make_decoder(spec.decoder)
        gate = Gate.open(config=config, clock=clock)
    except BaseException:
        _close_all(opened.values())
        raise
    lane = Lane(spec.id, spec.direction, gate, decoder=decoder,
                require_temperature=spec.require_temperature, vehicle=spec.vehicle,
                disinfection=spec.disinfection,
                debouncer=Debouncer(spec.debounce.gone_s, spec.debounce.repeat_s),
                language=config.settings.language, **devices, **lane_options)
    lane.status.alerts.update(problems)
    return lane


def build_lanes(config: Config, simulate: bool = False, *, clock: Any = None,
                **lane_options: Any) -> list[Lane]:
    """Every configured lane; lanes without their own pins share the ``[signals]`` outputs.

    In simulation every lane gets its own mock pins, so each lane's LEDs and
    relay can be watched separately.
    """
    specs = lane_specs(config)
    shared_pins, factory = _signals_settings(config, simulate)
    shared_wanted = shared_pins is not None and not simulate and any(spec.signals is None for spec in specs)
    shared = open_signals(shared_pins, factory) if shared_wanted else None
    lanes: list[Lane] = []
    try:
        for spec in specs:
            lanes.append(build_lane(spec, config, simulate, clock=clock,
                                    signals=None if spec.signals is not None else shared,
                                    **lane_options))
    except BaseException:
        for lane in lanes:
            _close_all([lane.signals if lane.signals is not shared else None, lane])
        _close_all([shared])
        raise
    return lanes
