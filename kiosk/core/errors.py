"""The kiosk's refusals: a stable English ``code`` for machines and tests, a message for people."""

from __future__ import annotations


class KioskError(Exception):
    """Something was refused; ``code`` is stable (e.g. ``wrong_pin``), the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
