"""Resident identity numbers (居民身份证号): checked, kept as a keyed hash, shown masked.

The number never leaves the office: the office database keeps only an HMAC of it (keyed with
``keys/identity.key``, a secret that stays in the office folder) and a masked form for people
to read. The hash recognises the same person in the next ledger and finds a person by number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from kiosk.core.errors import KioskError
from kiosk.store.config import write_private

IDENTITY_KEY = "identity.key"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]")


class IdentityError(KioskError):
    """An identity number is malformed (``id_shape``) or its check digit is wrong (``id_checksum``)."""


def clean_number(text: str) -> str:
    """The number as stored for checking: no spaces, upper-case X (people type x)."""
    return "".join(text.split()).upper()


def check_number(number: str) -> str:
    """The number when it is an 18-character number with a right check digit (GB 11643)."""
    number = clean_number(number)
    if not _SHAPE.fullmatch(number):
        raise IdentityError("id_shape", f"{mask(number)} is not 17 digits and a check digit")
    expected = _CHECK_CHARS[sum(int(d) * w for d, w in zip(number, _WEIGHTS)) % 11]
    if number[-1] != expected:
        raise IdentityError("id_checksum", f"{mask(number)}: check digit should be {expected}")
    return number


def looks_like_number(text: str) -> bool:
    return bool(_SHAPE.fullmatch(clean_number(text)))


def mask(number: str) -> str:
    """First 6 (the region) and last 4 shown, the birth date hidden: 610102********123X."""
    number = clean_number(number)
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def identity_key(keys_dir: Path) -> bytes:
    """The office's secret for hashing identity numbers, created (0600) on first use."""
    path = keys_dir / IDENTITY_KEY
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, secrets.token_hex(32).encode("ascii"))
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def number_hash(key: bytes, number: str) -> str:
    return hmac.new(key, clean_number(number).encode("ascii"), hashlib.sha256).hexdigest()
