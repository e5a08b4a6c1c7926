"""The typed ``kiosk.toml``: one dataclass per table, each key with its type, default and help.

:func:`read_settings` turns the parsed TOML into a :class:`GateToml` or an
:class:`OfficeToml` (chosen by ``role``). It refuses, with a :class:`ConfigError` that
names the key by its path and the closest known name, any unknown table or key, a value of
the wrong type or outside its choices, and a missing required key. Lane device tables
(``camera``, ``scanner``, ``thermometer``) are one table per ``kind``. The keys here are
exactly those documented in docs/configuration.md (tests/core/test_config.py checks it).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import types
from dataclasses import MISSING, dataclass, field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from kiosk.core.codes import CODES, SEVERITIES
from kiosk.core.i18n import t
from kiosk.core.rules import RuleSettings

ROLES = ("gate", "office")

DEFAULT_SHIFTS = [
    {"key": "morning", "name_zh": "早班", "name_en": "Morning", "start": "08:00", "end": "16:00"},
    {"key": "afternoon", "name_zh": "中班", "name_en": "Afternoon", "start": "16:00", "end": "24:00"},
    {"key": "night", "name_zh": "夜班", "name_en": "Night", "start": "00:00", "end": "08:00"},
]

DEFAULT_LANES = [
    {"id": "in", "direction": "in", "require_temperature": True},
    {"id": "out", "direction": "out", "require_temperature": False},
]


class ConfigError(Exception):
    """The configuration or data folder is missing or wrong; the message says how to fix it.

    ``code`` is a stable id: ``unknown_table``, ``unknown_key``, ``bad_type``,
    ``bad_value``, ``missing_key`` for kiosk.toml itself (their text comes from the
    catalogue, ``message(language)``), ``config`` for the other refusals.
    """

    def __init__(self, detail: str = "", *, code: str = "config", text: str | None = None,
                 **params: Any) -> None:
        super().__init__(detail or code)
        self.code, self.detail, self.text, self.params = code, detail, text, params

    @classmethod
    def of(cls, code: str, variant: str | None = None, **params: Any) -> "ConfigError":
        """A catalogue message ``config.<code>[.<variant>]`` with ``params``."""
        return cls(code=code, text=f"config.{code}" + (f".{variant}" if variant else ""), **params)

    def message(self, language: str | None = None) -> str:
        return self.detail if self.text is None else t(self.text, language, **self.params)

    def __str__(self) -> str:
        return self.message()


def setting(default: Any = MISSING, help: str = "", *, factory: Any = MISSING,
            choices: tuple = (), keys: tuple = ()) -> Any:
    """A key of a table: its default (none: required), help text, allowed values or key names."""
    return field(default=default, default_factory=factory,
                 metadata={"help": help, "choices": choices, "keys": keys})


class Table:
    """Base of every table: ``as_dict()`` is the table as TOML would hold it (unset keys left out)."""

    def as_dict(self) -> dict[str, Any]:
        return plain(self)


def plain(value: Any) -> Any:
    """Tables as dicts, without the keys that are None (TOML has no null)."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


table = dataclass(frozen=True, kw_only=True)

Pin = int | str  # a BCM number, or a gpiozero pin name such as "GPIO17" or "BOARD11"


# --- [rules] -------------------------------------------------------------------------------

@table
class RulesTable(Table):
    """The defaults are the rules' own (kiosk.core.rules.RuleSettings)."""

    fever_threshold: float = setting(RuleSettings.fever_threshold,
                                     "°C; a reading at or above it gives `fever`")
    plausible_min: float = setting(RuleSettings.plausible_min,
                                   "°C; a reading below it gives `temperature_implausible`")
    plausible_max: float = setting(RuleSettings.plausible_max,
                                   "°C; a reading above it gives `temperature_implausible`")
    duplicate_window_s: float = setting(RuleSettings.duplicate_window_s,
                                        "seconds; the same pass, same direction again within it "
                                        "is a `duplicate_scan`")
    household_quota_members: int = setting(RuleSettings.household_quota_members,
                                           "how many other members of a household may have gone "
                                           "out within the window before `household_quota`")
    household_quota_days: float = setting(RuleSettings.household_quota_days,
                                          "the household quota window in days")
    clock_tolerance_s: float = setting(RuleSettings.clock_tolerance_s,
                                       "seconds; a pass that starts at most this long after the gate's "
                                       "clock is accepted (a slow clock), and its event carries "
                                       "`clock_tolerance_s`, instead of `not_yet_valid`")
    fever_followup_minutes: float = setting(RuleSettings.fever_followup_minutes,
                                            "minutes; the same person's passages within it after a "
                                            "`fever` refusal are a re-measurement linked to it "
                                            "(`fever_remeasured` when the reading is normal)")
    severity: dict[str, str] = setting(factory=dict, help="per decision code: deny, refer, warn "
                                       "or off", keys=tuple(CODES), choices=SEVERITIES)


# --- [[shifts]] ------------------------------------------------------------------------------

@table
class ShiftTable(Table):
    key: str = setting(help="names the shift in each event's shift_id, e.g. 2026-11-29/night")
    name_zh: str = setting(help="its Chinese name")
    name_en: str = setting(help="its English name")
    start: str = setting(help="local start time HH:MM")
    end: str = setting(help="local end time HH:MM; 24:00 is midnight")


# --- [[lanes]] and their devices ---------------------------------------------------------------

@table
class OpencvCameraTable(Table):
    kind: Literal["opencv"] = setting("opencv", "a V4L2/USB camera read with OpenCV")
    source: Pin = setting(help="device number (0) or path/URL")
    width: int | None = setting(640, "requested frame width in pixels")
    height: int | None = setting(480, "requested frame height in pixels")
    fps: float | None = setting(None, "requested frames per second (camera default if unset)")
    exposure: float | None = setting(None, "manual exposure value (automatic if unset)")
    mjpg: bool = setting(False, "ask the camera for MJPG (more frames per second over USB 2)")
    backoff_initial: float = setting(0.5, "seconds before the first attempt to reopen a lost camera")
    backoff_max: float = setting(30.0, "the longest wait between reopen attempts, in seconds")
    max_attempts: int | None = setting(None, "give up after so many failed opens (never if unset)")
    read_failures: int = setting(3, "failed reads in a row after which the camera is reopened")


@table
class Picamera2CameraTable(Table):
    kind: Literal["picamera2"] = setting("picamera2", "the Raspberry Pi camera module (CSI) through Picamera2")
    source: int = setting(0, "camera module number (0: the first, or the only one)")
    width: int = setting(640, "frame width in pixels")
    height: int = setting(480, "frame height in pixels")
    fps: float = setting(15.0, "frames per second")
    focus_m: float | None = setting(0.3, "lens focus distance in metres on autofocus modules "
                                         "(0.3: a phone held 20-40 cm away); unset: continuous autofocus")
    driver: Literal["picamera2", "fake"] = setting("picamera2", "picamera2 on a Pi; fake for a desk demo")
    backoff_initial: float = setting(0.5, "seconds before the first attempt to reopen a lost camera")
    backoff_max: float = setting(30.0, "the longest wait between reopen attempts, in seconds")
    max_attempts: int | None = setting(None, "give up after so many failed opens (never if unset)")


@table
class FolderCameraTable(Table):
    kind: Literal["folder"] = setting("folder", "pictures from a folder or a video file (demo, tests)")
    source: str = setting(help="the folder of images or the video file")
    fps: float | None = setting(None, "frames per second to play (as fast as read if unset)")
    loop: bool = setting(False, "start again after the last picture")


@table
class EvdevScannerTable(Table):
    kind: Literal["evdev"] = setting("evdev", "a keyboard-like USB barcode scanner read with evdev")
    device: str = setting(help="its input device, e.g. /dev/input/by-id/usb-...-event-kbd")


@table
class StdinScannerTable(Table):
    kind: Literal["stdin"] = setting("stdin", "a scanner typing into the kiosk's standard input")


@table
class ManualThermometerTable(Table):
    kind: Literal["manual"] = setting("manual", "the guard types the handheld reading on the web page")


@table
class FakeThermometerTable(Table):
    kind: Literal["fake"] = setting("fake", "a fixed reading, for a desk demo")
    value: float = setting(36.6, "°C it reads")


@table
class Mlx90614ThermometerTable(Table):
    kind: Literal["mlx90614"] = setting("mlx90614", "an MLX90614 infrared sensor on I2C")
    bus: int = setting(1, "I2C bus number (/dev/i2c-N)")
    address: int = setting(0x5A, "its I2C address")
    offset: float = setting(0.0, "°C added to each reading (calibration)")
    ambient_compensation: float = setting(0.0, "skin-to-core correction: adds this x (object - ambient)")


@table
class ProximityTable(Table):
    trigger: Pin = setting(help="HC-SR04 trigger pin")
    echo: Pin = setting(help="HC-SR04 echo pin")
    threshold_m: float = setting(0.3, "metres; closer than this someone is in front of the lane")


@table
class DebounceTable(Table):
    gone_s: float = setting(1.0, "seconds a code must be out of view before it is read again")
    repeat_s: float = setting(5.0, "seconds after which a code held in view is read again")


@table
class PinsTable(Table):
    green: Pin = setting(17, "green LED pin (BCM)")
    red: Pin = setting(27, "red LED pin (BCM)")
    buzzer: Pin = setting(22, "buzzer pin (BCM)")
    relay: Pin = setting(23, "gate relay pin (BCM)")
    button: Pin = setting(24, "request-to-exit / guard button pin (BCM)")
    relay_active_high: bool = setting(True, "false for relay modules that switch on a low input")


@table
class SignalsTable(PinsTable):
    pin_factory: str | None = setting(None, "gpiozero pin factory: lgpio on a Pi, mock for a desk "
                                      "demo (gpiozero's default if unset)")


CameraTable = OpencvCameraTable | Picamera2CameraTable | FolderCameraTable
ScannerTable = EvdevScannerTable | StdinScannerTable
ThermometerTable = ManualThermometerTable | FakeThermometerTable | Mlx90614ThermometerTable
DECODERS = ("zxing", "zbar")  # hardware.decoder.DECODERS (checked by a test; importing it loads both)


@table
class LaneTable(Table):
    id: str = setting(help="lane id used in events and by guards signing on")
    direction: Literal["in", "out"] = setting(help="the direction of passages at this lane")
    require_temperature: bool = setting(False, "persons here must have a temperature "
                                        "(`temperature_missing` otherwise)")
    vehicle: bool = setting(False, "a vehicle lane (人车同检): a vehicle pass is held until its driver "
                            "shows their own pass, and both are decided in one event")
    disinfection: bool = setting(False, "vehicles at this vehicle lane go through its disinfection "
                                 "station (recorded as `disinfected` in each vehicle passage)")
    camera: CameraTable | None = setting(None, "camera table (none: no camera)")
    scanner: ScannerTable | None = setting(None, "barcode scanner table (none: no scanner)")
    thermometer: ThermometerTable = setting(factory=ManualThermometerTable, help="thermometer table")
    decoder: str = setting("zxing", "QR decoder backend (docs/decoders.md)", choices=DECODERS)
    proximity: ProximityTable | None = setting(None, "optional HC-SR04 distance sensor")
    debounce: DebounceTable = setting(factory=DebounceTable, help="reading a code held in view once")
    signals: PinsTable | None = setting(None, "this lane's own pins (none: the shared [signals])")


# --- the other gate tables -------------------------------------------------------------------

@table
class GateTable(Table):
    open_seconds: float = setting(3.0, "how long the gate relay stays closed (gate open) after an allow")
    open_unrecorded: bool = setting(False, "whether the gate may open when the event could not be "
                                    "recorded")


@table
class VoiceTable(Table):
    enabled: bool = setting(False, "speak a short prompt (allow, deny, fever, ...) on the gate's speaker "
                            "at each decision")
    volume: int = setting(100, "loudness in per cent of espeak-ng's normal amplitude (0-200)")
    device: str | None = setting(None, "ALSA device for aplay, e.g. plughw:1,0 (ALSA's default if unset)")


@table
class WebTable(Table):
    host: str = setting("127.0.0.1", "loopback address of the plain-HTTP listener (the gate's touchscreen, "
                        "the office PC's own browser); any other address is refused: the LAN gets HTTPS only")
    port: int = setting(8000, "its port")
    tls_host: str = setting("0.0.0.0", "address of the HTTPS listener (guard page, office pages and sync "
                            "API for the LAN, with the gate's certificate); empty: none")
    tls_port: int = setting(8443, "its port")


@table
class SyncTable(Table):
    retention_days: float = setting(90, "events acknowledged by the office and older than this may "
                                    "be pruned from the gate")
    pull_deadline_s: float = setting(60, "office: seconds a gate's pull may go without a complete step "
                                     "(each stored batch starts a fresh deadline) before it is cut off")
    max_clock_offset_s: float = setting(300, "office: a gate whose clock is further off than this is "
                                        "pulled but not acknowledged, so it prunes nothing")
    pull_workers: int = setting(8, "office: gates `kiosk office pull` pulls at the same time (1-64); "
                                "each fetches and verifies on its own, the writes take turns")


@table
class RegistrySettingsTable(Table):
    rules: RulesTable = setting(factory=RulesTable, help="rule settings that override each gate's "
                                "[rules] key by key")


# --- [[communities]] (office) -----------------------------------------------------------------

@table
class CommunityTable(Table):
    id: str = setting(help="the community's id, e.g. jinnan")
    name: str = setting(help="its name as shown, e.g. 锦南社区")
    sites: list[str] = setting(help="its compounds (ids from `sites`); each compound in one community")


# --- the whole file --------------------------------------------------------------------------

@table
class CommonToml(Table):
    role: str = setting("gate", "gate or office; decides the database file", choices=ROLES)
    # no defaults: an empty or cut-off kiosk.toml must stop the kiosk, not turn it into site "site"
    site_id: str = setting(help="the compound this folder serves, e.g. jinan")
    timezone: str = setting("Asia/Shanghai", "IANA zone for local times and shifts")
    language: str = setting("zh", "default language of screens and messages", choices=("zh", "en"))
    shifts: list[ShiftTable] = setting(factory=lambda: [ShiftTable(**s) for s in DEFAULT_SHIFTS],
                                       help="the shifts; every minute of the day in exactly one")


@table
class GateToml(CommonToml):
    gate_id: str = setting(help="this gate's id, stored in every event")
    rules: RulesTable = setting(factory=RulesTable, help="the access rules")
    lanes: list[LaneTable] = setting(factory=lambda: [LaneTable(**lane) for lane in DEFAULT_LANES],
                                     help="the lanes")
    signals: SignalsTable | None = setting(None, "the pins shared by lanes without their own")
    gate: GateTable = setting(factory=GateTable, help="the gate relay")
    voice: VoiceTable = setting(factory=VoiceTable, help="spoken prompts at the lanes")
    web: WebTable = setting(factory=WebTable, help="the guard page and sync API")
    sync: SyncTable = setting(factory=SyncTable, help="event retention")


@table
class OfficeToml(CommonToml):
    sites: list[str] | None = setting(None, "the compounds this office serves (default: [site_id])")
    sites_without_photos: list[str] = setting(factory=list, help="compounds whose gates get no holder photos: "
                                              "their bundles carry none and their gates delete what they had")
    database: str | None = setting(None, "where the gates' pulled events live: a postgresql:// URL "
                                   "(a district office), or none for the office.db SQLite file")
    site_names: dict[str, str] = setting(factory=dict, help="each compound's name as shown, by id "
                                         "(default: the id)", keys=None)
    communities: list[CommunityTable] = setting(factory=list, help="the communities the compounds "
                                                "group into (a compound in none is a community of its own)")
    district: str = setting("", "the street's or district's name over all the communities")
    sync: SyncTable = setting(factory=SyncTable, help="pulling the gates")
    registry_settings: dict[str, Any] = setting(
        factory=dict, help="settings sent to every gate in the signed registry bundle",
        keys=RegistrySettingsTable)  # checked as that table; only the keys given are kept
    web: WebTable = setting(factory=WebTable, help="the office's own page (`kiosk serve`)")


# --- reading ----------------------------------------------------------------------------------

def read_settings(raw: dict[str, Any]) -> GateToml | OfficeToml:
    """The typed settings of a parsed kiosk.toml; a ConfigError for the first mistake."""
    role = raw.get("role", "gate")
    if role not in ROLES:
        raise _bad_choice([], "role", role, ROLES)
    return read_table(GateToml if role == "gate" else OfficeToml, raw, [])


def read_table(cls: type, raw: Any, path: list) -> Any:
    """One table of type *cls* at *path* (e.g. ``["lanes", 1, "camera"]``)."""
    if not isinstance(raw, dict):
        raise _bad_type(path[:-1], path[-1] if path else "", "table", raw)
    known = [f.name for f in dataclasses.fields(cls)]
    for key, value in raw.items():
        if key not in known:
            raise _unknown(path, key, value, known)
    hints = get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            values[f.name] = _value(hints[f.name], raw[f.name], path, f.name, f.metadata)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError.of("missing_key", where=_where(path), name=f.name)
    return cls(**values)


def _value(kind: Any, value: Any, path: list, name: str | int, meta: Any) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        options = [arg for arg in args if arg is not type(None)]
        if all(dataclasses.is_dataclass(arg) for arg in options) and len(options) > 1:
            return _by_kind(options, value, [*path, name])
        if len(options) > 1:  # int | str: a pin or a camera source
            if isinstance(value, str) or _is_int(value):
                return value
            raise _bad_type(path, name, "int_or_text", value)
        return _value(options[0], value, path, name, meta)
    if origin is Literal:
        if value not in args:
            raise _bad_choice(path, name, value, args)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise _bad_type(path, name, "list", value)
        return [_value(args[0], item, [*path, name], number, {})
                for number, item in enumerate(value, start=1)]
    if origin is dict:
        return _mapping(value, path, name, meta)
    if dataclasses.is_dataclass(kind):
        return read_table(kind, value, [*path, name])
    return _scalar(kind, value, path, name, meta)


def _mapping(value: Any, path: list, name: str | int, meta: Any) -> dict:
    """A table whose keys are listed in ``keys`` (decision codes), any (``keys`` None: text
    values by free ids, checked where they are used) or checked as a table."""
    keys = meta.get("keys", ())
    if dataclasses.is_dataclass(keys):
        read_table(keys, value, [*path, name])  # refuses what that table would
        return copy.deepcopy(value)
    if not isinstance(value, dict):
        raise _bad_type(path, name, "table", value)
    for key, item in value.items():
        if keys is not None and key not in keys:
            raise _unknown([*path, name], key, item, list(keys))
        _scalar(str, item, [*path, name], key, meta)
    return dict(value)


def _scalar(kind: type, value: Any, path: list, name: str | int, meta: Any) -> Any:
    if kind is bool and not isinstance(value, bool):
        raise _bad_type(path, name, "boolean", value)
    if kind is int and not _is_int(value):
        raise _bad_type(path, name, "integer", value)
    if kind is float:
        if not (_is_int(value) or isinstance(value, float)):
            raise _bad_type(path, name, "number", value)
        value = float(value)
    if kind is str and not isinstance(value, str):
        raise _bad_type(path, name, "text", value)
    choices = meta.get("choices", ())
    if choices and value not in choices:
        raise _bad_choice(path, name, value, choices)
    return value


def _by_kind(options: list[type], value: Any, path: list) -> Any:
    """A device table: its ``kind`` chooses which table it is."""
    kinds = {f.default: option for option in options for f in dataclasses.fields(option)
             if f.name == "kind"}
    if not isinstance(value, dict):
        raise _bad_type(path[:-1], path[-1], "table", value)
    if "kind" not in value:
        raise ConfigError.of("missing_key", where=_where(path), name="kind")
    if value["kind"] not in kinds:
        raise _bad_choice(path, "kind", value["kind"], tuple(kinds))
    return read_table(kinds[value["kind"]], value, path)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _where(path: list) -> str:
    """``[lanes.1.camera] `` for a key in that table, nothing at the top level."""
    return f"[{'.'.join(map(str, path))}] " if path else ""


def _unknown(path: list, key: str, value: Any, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    variant = "suggest" if close else None
    if isinstance(value, dict):
        dotted = ".".join(map(str, [*path, key]))
        suggestion = ".".join(map(str, [*path, close[0]])) if close else ""
        return ConfigError.of("unknown_table", variant, name=dotted, suggestion=suggestion)
    return ConfigError.of("unknown_key", variant, where=_where(path), name=key,
                          suggestion=close[0] if close else "")


def _shown(value: Any) -> str:
    """A value about as TOML writes it: strings in double quotes, true/false."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _bad_type(path: list, name: str | int, expected: str, value: Any) -> ConfigError:
    return ConfigError.of("bad_type", expected, where=_where(path), name=name, value=_shown(value))


def _bad_choice(path: list, name: str | int, value: Any, choices: tuple) -> ConfigError:
    return ConfigError.of("bad_value", "choice", where=_where(path), name=name, value=_shown(value),
                          choices=", ".join(_shown(choice) for choice in choices))
