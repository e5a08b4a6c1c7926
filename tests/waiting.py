"""Waiting for something a thread or process does: generous limits, never a speed test.

The limits are only reached when the awaited thing never happens: a busy CI machine
(load 6 on 2 cores) must not fail a test, it may only make it slower.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PATIENCE_S = 60.0  # a limit reached only on failure


def poll(predicate: Callable[[], object], timeout: float = PATIENCE_S, interval: float = 0.02) -> bool:
    """True as soon as ``predicate()`` is true; False if it is still false after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())  # one last look: the sleep may have outlasted the deadline


def wait_for(predicate: Callable[[], object], timeout: float = PATIENCE_S, interval: float = 0.02) -> None:
    """Return once ``predicate()`` is true; AssertionError naming it if that takes over ``timeout`` s."""
    if not poll(predicate, timeout, interval):
        raise AssertionError(f"not reached within {timeout} s: {predicate.__doc__ or predicate}")
