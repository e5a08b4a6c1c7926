"""Time for the kiosk: an injectable clock and the stamps stored with every event.

A Raspberry Pi has no hardware clock, so after a power cut without network its time
may be wrong; every stamp therefore carries whether the kernel considered the clock
synchronised when it was taken.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

UTC = timezone.utc
_TIME_ERROR = 5  # adjtimex() state meaning "clock not synchronised"


def kernel_clock_synchronised() -> bool:
    """Whether the kernel's clock is NTP-synchronised (what timedatectl reports).

    Uses adjtimex(2) read-only; on systems where it is unavailable we say False,
    since claiming a good clock we cannot vouch for would hide a wrong time.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex; modes=0 means read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR)


class SystemClock:
    """The real clock. ``synchronised()`` asks ``status`` (the kernel's NTP state by default),
    cached briefly: it costs a syscall."""

    def __init__(self, status: Callable[[], bool] = kernel_clock_synchronised) -> None:
        self._status = status
        self._synced_at = -1e9
        self._synced = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def synchronised(self) -> bool:
        mono = time.monotonic()
        if mono - self._synced_at > 30:
            self._synced = self._status()
            self._synced_at = mono
        return self._synced


class FixedClock:
    """A clock for tests and simulation: set or advance it by hand."""

    def __init__(self, start: datetime, synchronised: bool = True) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.current = start
        self.is_synchronised = synchronised

    def now(self) -> datetime:
        return self.current

    def synchronised(self) -> bool:
        return self.is_synchronised

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.current = self.current + timedelta(**delta)
        return self.current


@dataclass(frozen=True)
class Stamp:
    """A moment as stored: UTC with milliseconds, local time with zone, sync flag."""

    utc: str
    local: str
    tz: str
    clock_synced: bool

    @classmethod
    def of(cls, moment: datetime, tz_name: str, clock_synced: bool) -> "Stamp":
        if moment.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        utc = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        local = moment.astimezone(ZoneInfo(tz_name)).isoformat(timespec="milliseconds")
        return cls(utc=utc, local=local, tz=tz_name, clock_synced=clock_synced)


def parse_utc(text: str) -> datetime:
    """Parse a stored UTC stamp ('...Z') back into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
