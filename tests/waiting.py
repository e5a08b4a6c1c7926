"""Waiting for something a thread or process does: generous limits, never a speed test."""

from __future__ import annotations

import time
from collections.abc import Callable


def poll(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.02) -> bool:
    """True as soon as ``predicate()`` is true; False if it is still false after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
