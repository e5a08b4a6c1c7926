"""Where a kiosk keeps its data, and its configuration file ``kiosk.toml``.

The data folder ("home") is found from ``--home``, else ``$KIOSK_HOME``, else
``$XDG_DATA_HOME/kiosk`` (``~/.local/share/kiosk``). A gate and an office can live
side by side on one machine in two homes.
"""

from __future__ import annotations

import copy
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

CONFIG_NAME = "kiosk.toml"
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

DEFAULTS: dict[str, Any] = {
    "role": "gate",
    "site_id": "site",
    "gate_id": "gate",
    "timezone": "Asia/Shanghai",
    "language": "zh",
    "rules": {
        "fever_threshold": 37.3,
        "plausible_min": 30.0,
        "plausible_max": 43.0,
        "duplicate_window_s": 10,
        "household_quota_members": 1,
        "household_quota_days": 2,
        "severity": {},
    },
    "shifts": DEFAULT_SHIFTS,
    "lanes": DEFAULT_LANES,
    "gate": {"open_seconds": 3.0, "open_unrecorded": False},
    "web": {"host": "127.0.0.1", "port": 8000},
    "sync": {"retention_days": 90},
}


class ConfigError(Exception):
    """The configuration or data folder is missing or wrong; the message says how to fix it."""


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The data folder: ``home`` if given, else $KIOSK_HOME, else the XDG default."""
    if home:
        return Path(home).expanduser().resolve()
    if os.environ.get("KIOSK_HOME"):
        return Path(os.environ["KIOSK_HOME"]).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(xdg) / "kiosk").resolve()


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class Config:
    """A loaded configuration: ``data`` is the merged TOML, ``home`` its folder."""

    home: Path
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def role(self) -> str:
        return self.data["role"]

    @property
    def db_path(self) -> Path:
        return self.home / f"{self.role}.db"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    def secret_key(self) -> str:
        """The web session secret, generated at init and kept in a 0600 file."""
        return (self.home / "secret_key").read_text().strip()


def config_path(home: Path) -> Path:
    return home / CONFIG_NAME


def load_config(home: str | os.PathLike | None = None) -> Config:
    """Read ``kiosk.toml`` from the home folder, merged over the defaults."""
    folder = resolve_home(home)
    path = config_path(folder)
    if not path.exists():
        raise ConfigError(f"no {CONFIG_NAME} in {folder}: run `kiosk init` (gate) or `kiosk office init` first")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    data = _merge(DEFAULTS, raw)
    if data["role"] not in ROLES:
        raise ConfigError(f"{path}: role must be one of {ROLES}, not {data['role']!r}")
    return Config(home=folder, data=data)


def write_private(path: Path, content: bytes | str) -> None:
    """Create a file readable by its owner only (0600), whatever the umask."""
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def create_home(home: str | os.PathLike | None, settings: dict[str, Any]) -> Config:
    """Create a data folder (0700) with its config and web secret. Refuses to overwrite."""
    folder = resolve_home(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = config_path(folder)
    if path.exists():
        raise ConfigError(f"{path} exists already: this folder is initialised")
    write_private(path, tomli_w.dumps(settings))
    write_private(folder / "secret_key", secrets.token_hex(32))
    return load_config(folder)
