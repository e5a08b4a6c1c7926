"""Where a kiosk keeps its data, and its configuration file ``kiosk.toml``.

The data folder ("home") is found from ``--home``, else ``$KIOSK_HOME``, else
``$XDG_DATA_HOME/kiosk`` (``~/.local/share/kiosk``). A gate and an office can live
side by side on one machine in two homes.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import tomli_w

from kiosk.store.settings import (
    DEFAULT_LANES,
    DEFAULT_SHIFTS,
    ROLES,
    ConfigError,
    GateToml,
    OfficeToml,
    plain,
    read_settings,
)

__all__ = ["CONFIG_NAME", "DEFAULT_LANES", "DEFAULT_SHIFTS", "ROLES", "Config", "ConfigError",
           "config_path", "create_home", "load_config", "resolve_home", "write_private"]

CONFIG_NAME = "kiosk.toml"


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The data folder: ``home`` if given, else $KIOSK_HOME, else the XDG default."""
    if home:
        return Path(home).expanduser().resolve()
    if os.environ.get("KIOSK_HOME"):
        return Path(os.environ["KIOSK_HOME"]).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(xdg) / "kiosk").resolve()


@dataclass
class Config:
    """A loaded configuration: ``settings`` the typed kiosk.toml (kiosk/store/settings.py),
    ``home`` its folder. ``config["lanes"]`` reads the same settings as plain dicts."""

    home: Path
    settings: GateToml | OfficeToml

    @classmethod
    def from_data(cls, home: Path, data: dict[str, Any]) -> "Config":
        """Settings given as a dict, checked as kiosk.toml would be."""
        return cls(home, read_settings(data))

    @cached_property
    def data(self) -> dict[str, Any]:
        return plain(self.settings)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def db_path(self) -> Path:
        return self.home / f"{self.role}.db"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    def secret_key(self) -> str:
        """The web session secret, generated at init and kept in a 0600 file; refuses an empty one."""
        path = self.home / "secret_key"
        secret = path.read_text().strip() if path.exists() else ""
        if len(secret) < 32:
            raise ConfigError.of("secret_key_bad", path=str(path))
        return secret


def config_path(home: Path) -> Path:
    return home / CONFIG_NAME


def load_config(home: str | os.PathLike | None = None) -> Config:
    """Read ``kiosk.toml`` from the home folder; unset keys take their defaults. Refuses
    unknown tables and keys and wrong values (ConfigError)."""
    folder = resolve_home(home)
    path = config_path(folder)
    if not path.exists():
        raise ConfigError(f"no {CONFIG_NAME} in {folder}: run `kiosk init` (gate) or `kiosk office init` first")
    text = path.read_text(encoding="utf-8")
    if not text.strip():  # what a failed write used to leave: never silently the defaults
        raise ConfigError.of("empty_file", path=str(path))
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return Config(home=folder, settings=read_settings(raw))


def write_private(path: Path, content: bytes | str) -> None:
    """Write a file readable by its owner only (0600), whatever the umask, atomically.

    A temporary file beside it is written and fsynced, renamed over ``path``, and the folder
    fsynced: after a power cut or an I/O error the file is the old one or the new one, never
    empty or half written.
    """
    data = content.encode() if isinstance(content, str) else content
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO:
    """``open`` for a file the kiosk writes that holds data or credentials: 0600 from its creation,
    whatever the umask (an existing file is made 0600 too). ``mode`` is w/a, text or binary."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, **kwargs)


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
