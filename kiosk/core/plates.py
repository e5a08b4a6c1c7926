"""Vehicle plates in one form, so a typed, scanned or imported plate compares equal."""

from __future__ import annotations

import re
import unicodedata

# What people type between a plate's parts: spaces, the middle dot (陕H·B6550), dashes, dots.
_SEPARATORS = re.compile(r"[\s·•・．.\-_]+")


def normalise_plate(plate: str) -> str:
    """Half-width (NFKC: 陕ＨＡ６１６４ -> 陕HA6164), upper-case, without separators."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", plate)).upper()
