"""``kiosk doctor``: check the configuration and every device, in plain words.

Each check gives one line ``[OK]``/``[WARN]``/``[ERROR]`` (translated) through the
catalogue (kiosk/core/locale/loop.*.json). Any ERROR makes the exit status 1. Every
device check has a time limit, so a missing camera never hangs the doctor.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kiosk.core.clock import kernel_clock_synchronised, parse_utc
from kiosk.core.i18n import t
from kiosk.store.config import Config, ConfigError, load_config

__all__ = ["Finding", "diagnose", "render"]

LOW_DISK_BYTES = 100 * 1024 ** 2
WARN_DISK_BYTES = 1024 ** 3
REGISTRY_MAX_AGE_DAYS = 7
AMBIENT_RANGE = (-20.0, 60.0)  # with nobody in front, the sensor sees the booth


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warn | error
    key: str
    params: dict[str, Any]

    def line(self, language: str | None = None) -> str:
        params = {name: value.message(language) if isinstance(value, ConfigError) else value
                  for name, value in self.params.items()}  # a ConfigError speaks the report's language
        return f"[{t('loop.level.' + self.level, language)}] " \
               f"{t('loop.doctor.' + self.key, language, **params)}"


def _ok(key: str, **params: Any) -> Finding:
    return Finding("ok", key, params)


def _warn(key: str, **params: Any) -> Finding:
    return Finding("warn", key, params)


def _error(key: str, **params: Any) -> Finding:
    return Finding("error", key, params)


def diagnose(home: str | Path | None, camera_timeout: float = 3.0,
             now: datetime | None = None) -> list[Finding]:
    """Run every check; never raises for what it finds."""
    from kiosk.gate.wiring import lane_specs

    try:
        config = load_config(home)
        if config.role != "gate":
            raise ConfigError(f"{config.home} is an {config.role} folder, not a gate")
        specs = lane_specs(config)
    except ConfigError as exc:
        return [_error("config_bad", error=exc)]
    findings = [_ok("config_ok", path=str(config.home / "kiosk.toml"), lanes=len(specs))]
    findings += _permissions(config)
    findings.append(_tls(config))
    findings += _data(config, now or datetime.now(timezone.utc))
    for spec in specs:
        findings += _lane(spec, config, camera_timeout)
    findings.append(_gpio(config))
    findings.append(_ok("clock_ok") if kernel_clock_synchronised() else _warn("clock_unsynced"))
    findings.append(_rtc())
    if config.settings.voice.enabled:
        findings.append(_voice(config.settings.voice.device))
    findings.append(_disk(config.home))
    return findings


def _permissions(config: Config) -> Iterator[Finding]:
    problems = False
    if stat.S_IMODE(config.home.stat().st_mode) & 0o077:
        problems = True
        yield _warn("perm_folder", path=str(config.home),
                    mode=oct(stat.S_IMODE(config.home.stat().st_mode)))
    db = config.db_path
    private = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"),
               config.home / "secret_key", config.home / "kiosk.toml"]
    if config.keys_dir.is_dir():
        private += sorted(config.keys_dir.iterdir())
    for path in private:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            problems = True
            yield _warn("perm_file", path=str(path), mode=oct(stat.S_IMODE(path.stat().st_mode)))
    if not problems:
        yield _ok("perm_ok")


def _tls(config: Config) -> Finding:
    """The fingerprint the office pins (`kiosk office gate add --fingerprint`)."""
    from kiosk.core.errors import KioskError
    from kiosk.core.transport import shown
    from kiosk.store import tls

    try:
        return _ok("tls_ok", fingerprint=shown(tls.fingerprint(config)))
    except (KioskError, ValueError) as exc:  # missing, or not a certificate
        return _error("tls_bad", path=str(tls.certificate_path(config)), error=str(exc))


def _data(config: Config, now: datetime) -> Iterator[Finding]:
    from kiosk.gate.service import Gate, held_signing_keys
    from kiosk.store import registry

    try:
        gate = Gate(config)
    except Exception as exc:  # unreadable, locked, corrupt
        yield _error("db_bad", path=str(config.db_path), error=str(exc))
        return
    with gate:
        yield from _store_integrity(gate.db)
        for path in held_signing_keys(gate):  # Gate.open refuses to run with it: say so here too
            yield _error("signing_key_held", path=str(path))
        keys = registry.trusted_keys(gate.db)
        yield _ok("keys_ok", count=len(keys)) if keys else _error("keys_none")
        meta = registry.meta(gate.db)
        if not meta.get("version"):
            yield _error("registry_none")
            return
        days = max(0, (now - parse_utc(meta["issued_utc"])).days)
        found = _ok if days <= REGISTRY_MAX_AGE_DAYS else _warn
        yield found("registry_ok" if days <= REGISTRY_MAX_AGE_DAYS else "registry_old",
                    version=meta["version"], days=days)


def _lane(spec: Any, config: Config, camera_timeout: float) -> Iterator[Finding]:
    lane = spec.id
    if spec.camera is None and spec.scanner is None:
        yield _warn("lane_manual", lane=lane)
    if spec.camera is not None:
        yield _camera(lane, spec.camera, camera_timeout)
        yield _decoder(lane, spec.decoder)
    if spec.scanner is not None:
        yield _scanner(lane, spec.scanner)
    yield _thermometer(lane, spec.thermometer)


def _camera(lane: str, spec: Any, timeout: float) -> Finding:
    from kiosk.gate.wiring import open_camera_spec

    source = spec.source
    extra = {"max_attempts": 1} if spec.kind in ("opencv", "picamera2") else {}
    try:
        camera = open_camera_spec(spec, **extra)
    except Exception as exc:
        return _error("camera_bad", lane=lane, source=source, error=str(exc))
    try:
        frame = camera.read(timeout=timeout)
        health = camera.health
    finally:
        camera.close()
    if frame is None and health.error:
        return _error("camera_bad", lane=lane, source=source, error=health.error)
    if frame is None:  # the text is chosen by render(): the --lang of the report
        return _error("camera_silent", lane=lane, source=source, seconds=timeout)
    model = getattr(camera, "model", None)  # the camera module's sensor (imx708: Camera Module 3)
    if model:
        return _ok("camera_module_ok", lane=lane, model=model, width=frame.shape[1], height=frame.shape[0])
    return _ok("camera_ok", lane=lane, source=source, width=frame.shape[1], height=frame.shape[0])


def _decoder(lane: str, name: str) -> Finding:
    from hardware.decoder import make_decoder

    try:
        make_decoder(name)
    except (ImportError, OSError) as exc:  # pyzbar without libzbar0 raises ImportError
        hint = " (apt install libzbar0)" if name == "zbar" else ""
        return _error("decoder_bad", lane=lane, name=name, error=f"{exc}{hint}")
    return _ok("decoder_ok", lane=lane, name=name)


def _scanner(lane: str, spec: Any) -> Finding:
    if spec.kind == "stdin":
        return _ok("scanner_stdin", lane=lane)
    device = spec.device
    if not Path(device).exists():
        return _error("scanner_missing", lane=lane, device=device)
    try:
        import evdev  # noqa: F401
    except ImportError:
        return _error("scanner_no_evdev", lane=lane)
    return _ok("scanner_ok", lane=lane, device=device)


def _thermometer(lane: str, spec: Any) -> Finding:
    from hardware.thermometer import measure
    from kiosk.gate.wiring import open_thermometer

    if spec.kind == "manual":
        return _ok("thermo_manual", lane=lane)
    try:
        device = open_thermometer(spec)
    except Exception as exc:  # no /dev/i2c-N, permission denied
        return _error("thermo_bad", lane=lane, error=str(exc))
    try:
        result = measure(device, samples=3, window_s=0.2, plausible=AMBIENT_RANGE)
    finally:
        device.close()
    if result.status == "ok":
        return _ok("thermo_ok", lane=lane, kind=spec.kind, value=f"{result.value:.1f}")
    if result.status == "implausible":
        return _warn("thermo_odd", lane=lane, value=f"{result.value:.1f}")
    return _error("thermo_bad", lane=lane, error="; ".join(result.errors) or result.status)


def _store_integrity(db) -> Iterator[Finding]:
    """SQLite's quick_check (pages, indexes, rows) and the event chain (every row against its hash)."""
    from kiosk.core.chain import GENESIS_HASH, verify_rows
    from kiosk.store import watermark
    from kiosk.store.events import chain_head, iter_events

    try:
        result = [row[0] for row in db.conn.execute("PRAGMA quick_check(5)")]
        if result != ["ok"]:
            yield _error("db_damaged", detail="; ".join(result))
            return
        anchor = db.conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone() or (0, GENESIS_HASH)
        report = verify_rows(iter_events(db, since=anchor[0]), *anchor)
        head = chain_head(db)[0]
        lost = watermark.lost_tail(db.conn, head)
    except sqlite3.DatabaseError as exc:
        yield _error("db_damaged", detail=str(exc))
        return
    if lost is not None:
        yield _error("db_lost_tail", head=head, mark=lost)
    if report.ok:
        yield _ok("chain_ok", count=report.checked)
    else:
        yield _error("chain_bad", count=len(report.problems), first=report.problems[0])


def _rtc(rtc_root: Path = Path("/sys/class/rtc")) -> Finding:
    """A DS3231 (or DS1307) battery clock keeps the time over a power cut without network."""
    names = [path.read_text().strip() for path in sorted(rtc_root.glob("rtc*/name"))] if rtc_root.is_dir() else []
    found = next((name for name in names if "ds1307" in name or "ds3231" in name), None)
    return _ok("rtc_ok", name=found) if found else _warn("rtc_none")


def _gpio(config: Config) -> Finding:
    from kiosk.gate.wiring import open_signals

    shared = config.settings.signals
    lanes = config.settings.lanes
    shared_used = shared is not None and any(lane.signals is None for lane in lanes)  # as kiosk run
    pin_tables = [shared] * shared_used + [lane.signals for lane in lanes if lane.signals is not None]
    if not pin_tables:
        return _warn("gpio_none")
    factory = shared.pin_factory if shared else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gpiozero warns on each factory it falls back from
            for pins in pin_tables:
                open_signals(pins, factory).close()
    except Exception as exc:
        return _error("gpio_bad", factory=factory or "default", error=f"{type(exc).__name__}: {exc}")
    return _ok("gpio_ok", factory=factory or "default")


def _voice(device: str | None) -> Finding:
    """The lane's spoken prompts: espeak-ng makes them, aplay plays them on the configured device
    (on a Pi: the 3.5 mm jack or HDMI, docs/raspberry-pi.md)."""
    from hardware.audio import AudioError, check_device

    shown = device or "default"
    if shutil.which("espeak-ng") is None:
        return _error("voice_bad", device=shown, error="espeak-ng is not installed (apt-get install espeak-ng)")
    try:
        check_device(device)
    except AudioError as exc:
        return _error("voice_bad", device=shown, error=str(exc))
    return _ok("voice_ok", device=shown)


def _disk(home: Path) -> Finding:
    free = shutil.disk_usage(home).free
    level = _error if free < LOW_DISK_BYTES else _warn if free < WARN_DISK_BYTES else _ok
    return level("disk", free=f"{free / 1024 ** 3:.1f}")


def render(findings: list[Finding], language: str | None = None) -> list[str]:
    return [finding.line(language) for finding in findings]
