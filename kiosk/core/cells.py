"""Spreadsheet cells that are safe to open: text a spreadsheet will not run as a formula."""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet will not run as a formula (names and notes come from guards)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
