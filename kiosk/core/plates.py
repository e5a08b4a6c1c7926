"""Vehicle plates in one form, so a typed, scanned or imported plate compares equal."""

from __future__ import annotations


def normalise_plate(plate: str) -> str:
    return "".join(plate.split()).upper()
