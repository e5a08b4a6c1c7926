"""Report each QR payload once while it is held in front of the camera."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Debouncer"]


class Debouncer:
    """Turn per-frame decode results into "new code presented" events.

    A payload held in view is reported once.  It is reported again only after
    it has been out of view for ``gone_s`` seconds (the person took the phone
    away and came back) or ``repeat_s`` seconds have passed since it was last
    reported (someone stands there waiting, e.g. after a "refer" outcome).

    Time is passed in (``now``, monotonic seconds) so behaviour is exact and
    testable without sleeping.
    """

    def __init__(self, gone_s: float = 1.0, repeat_s: float = 5.0) -> None:
        if gone_s < 0 or repeat_s < 0:
            raise ValueError("gone_s and repeat_s must be >= 0")
        self.gone_s = gone_s
        self.repeat_s = repeat_s
        self._last_seen: dict[str, float] = {}
        self._last_reported: dict[str, float] = {}

    def _is_new(self, payload: str, now: float) -> bool:
        seen = self._last_seen.get(payload)
        reported = self._last_reported.get(payload)
        if seen is None or reported is None:
            return True
        return now - seen >= self.gone_s or now - reported >= self.repeat_s

    def update(self, payloads: Iterable[str], now: float) -> list[str]:
        """Feed one frame's payloads seen at *now*; return those to act on."""
        fresh: list[str] = []
        for payload in dict.fromkeys(payloads):
            if self._is_new(payload, now):
                fresh.append(payload)
                self._last_reported[payload] = now
            self._last_seen[payload] = now
        self._forget(now)
        return fresh

    def _forget(self, now: float) -> None:
        """Drop long-gone payloads so memory stays bounded on a busy gate."""
        horizon = max(self.gone_s, self.repeat_s)
        stale = [p for p, t in self._last_seen.items() if now - t > horizon]
        for payload in stale:
            del self._last_seen[payload]
            self._last_reported.pop(payload, None)

    def reset(self) -> None:
        """Forget everything (e.g. after the lane was reconfigured)."""
        self._last_seen.clear()
        self._last_reported.clear()
