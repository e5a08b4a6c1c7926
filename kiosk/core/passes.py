"""Signed pass tokens (出入证): compact, QR-alphanumeric text verified offline.

Format (documented in docs/pass-format.md)::

    GP1:<base45(body || signature)>
    body = version(1) key_id(4) kind(1) valid_from(u32) valid_until(u32)
           len+pass_id  len+subject_id  len+site_id          (lengths are 1 byte, UTF-8)
    signature = Ed25519(body), 64 bytes

No name, phone or ID-card number is ever in a token. Verification never raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import base45
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.core.signing import KEY_ID_BYTES, key_id_bytes, verify

PREFIX = "GP1:"
VERSION = 1
SIGNATURE_BYTES = 64
MAX_FIELD = 20  # bytes per field; the three together must also fit MAX_QR_CHARS
MAX_QR_CHARS = 178  # alphanumeric capacity of QR version 7 at error correction M
MAX_TOKEN_CHARS = 400  # anything longer is not ours: refuse before decoding
SUBJECT_KINDS = ("resident", "vehicle", "staff", "visitor")
_HEAD = struct.Struct(">B4sBII")


class PassFormatError(ValueError):
    """Raised only when *minting* with bad fields; verification never raises."""


@dataclass(frozen=True)
class PassClaims:
    pass_id: str
    subject_kind: str
    subject_id: str
    site_id: str
    valid_from: datetime
    valid_until: datetime
    key_id: str


@dataclass(frozen=True)
class PassCheck:
    """The result of reading a token: ``code`` is None when it is genuine and current."""

    code: str | None
    claims: PassClaims | None = None


def _field(value: str) -> bytes:
    raw = value.encode("utf-8")
    if not raw or len(raw) > MAX_FIELD:
        raise PassFormatError(f"field {value!r} must be 1..{MAX_FIELD} bytes")
    return bytes([len(raw)]) + raw


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise PassFormatError("validity times must be timezone-aware")
    seconds = int(moment.timestamp())
    if not 0 <= seconds < 2**32:  # stored as an unsigned 32-bit count
        raise PassFormatError("validity times must lie between 1970 and 2106")
    return seconds


def mint(key: Ed25519PrivateKey, *, pass_id: str, subject_kind: str, subject_id: str,
         site_id: str, valid_from: datetime, valid_until: datetime) -> str:
    """Sign a pass token (office only)."""
    if subject_kind not in SUBJECT_KINDS:
        raise PassFormatError(f"subject kind must be one of {SUBJECT_KINDS}")
    if valid_until <= valid_from:
        raise PassFormatError("valid_until must be after valid_from")
    body = _HEAD.pack(VERSION, key_id_bytes(key.public_key()), SUBJECT_KINDS.index(subject_kind),
                      _epoch(valid_from), _epoch(valid_until))
    body += _field(pass_id) + _field(subject_id) + _field(site_id)
    token = PREFIX + base45.b45encode(body + key.sign(body)).decode("ascii")
    if len(token) > MAX_QR_CHARS:  # 35 bytes of ids in all: a larger QR code scans badly
        raise PassFormatError(f"pass id, subject id and site id are too long together: the token has "
                              f"{len(token)} characters, QR version 7-M holds {MAX_QR_CHARS}")
    return token


def _read_fields(data: bytes, offset: int, count: int) -> tuple[list[str], int] | None:
    values = []
    for _ in range(count):
        if offset >= len(data):
            return None
        size = data[offset]
        chunk = data[offset + 1: offset + 1 + size]
        if size == 0 or len(chunk) != size:
            return None
        try:
            values.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        offset += 1 + size
    return values, offset


def parse(token: str) -> tuple[bytes, bytes, PassClaims] | None:
    """Split a token into (body, signature, claims) or None if it is not well formed."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.startswith(PREFIX):
        return None
    try:
        raw = base45.b45decode(token[len(PREFIX):])
    except (ValueError, TypeError):
        return None
    if len(raw) < _HEAD.size + SIGNATURE_BYTES:
        return None
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    version, kid, kind, start, end = _HEAD.unpack_from(body)
    fields = _read_fields(body, _HEAD.size, 3)
    if version != VERSION or kind >= len(SUBJECT_KINDS) or fields is None or fields[1] != len(body):
        return None
    pass_id, subject_id, site_id = fields[0]
    claims = PassClaims(pass_id=pass_id, subject_kind=SUBJECT_KINDS[kind], subject_id=subject_id,
                        site_id=site_id, key_id=kid.hex(),
                        valid_from=datetime.fromtimestamp(start, timezone.utc),
                        valid_until=datetime.fromtimestamp(end, timezone.utc))
    return body, signature, claims


def check(token: str, keys: dict[str, Ed25519PublicKey], site_id: str, now: datetime,
          early: timedelta = timedelta(0)) -> PassCheck:
    """Verify a token against trusted keys, the gate's site and ``now``. Never raises.

    A pass that starts no more than ``early`` after ``now`` is accepted: the gate's clock
    may be slow (a Pi has no battery clock), and a pass issued a minute ago must work.
    """
    try:
        parsed = parse(token)
    except Exception:  # noqa: BLE001 - a scanned string must never crash the gate
        parsed = None
    if parsed is None:
        return PassCheck("unreadable")
    body, signature, claims = parsed
    key = keys.get(claims.key_id)
    if key is None:
        return PassCheck("unknown_key", claims)
    if not verify(key, signature, body):
        return PassCheck("bad_signature", claims)
    if claims.site_id != site_id:
        return PassCheck("wrong_site", claims)
    if now + early < claims.valid_from:
        return PassCheck("not_yet_valid", claims)
    if now >= claims.valid_until:
        return PassCheck("expired", claims)
    return PassCheck(None, claims)


__all__ = ["PREFIX", "PassCheck", "PassClaims", "PassFormatError", "check", "mint", "parse",
           "KEY_ID_BYTES"]
