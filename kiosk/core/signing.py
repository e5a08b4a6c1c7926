"""Ed25519 keys: the office signs passes and bundles; gates only verify.

A key id is the first 8 hex digits of SHA-256 over the raw public key, so a gate can
trust several keys at once and the office can rotate them.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.core.errors import KioskError

KEY_ID_BYTES = 4


class KeyError_(KioskError, ValueError):
    """A key file or key text is unusable (code ``bad_key``; the message says how)."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_key", message)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_bytes(key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(raw_public(key)).digest()[:KEY_ID_BYTES]


def key_id(key: Ed25519PublicKey) -> str:
    return key_id_bytes(key).hex()


def public_key_text(key: Ed25519PublicKey) -> str:
    """One line a person can copy: ``ed25519:<key id>:<base64 raw key>``."""
    return f"ed25519:{key_id(key)}:{base64.b64encode(raw_public(key)).decode()}"


def parse_public_key_text(text: str) -> tuple[str, Ed25519PublicKey]:
    """Parse :func:`public_key_text` output, checking that the key id matches the key."""
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != "ed25519":
        raise KeyError_("a public key reads 'ed25519:<key id>:<base64>'")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(parts[2], validate=True))
    except ValueError as exc:
        raise KeyError_(f"bad public key: {exc}") from exc
    if key_id(key) != parts[1]:
        raise KeyError_("the key id does not match the key")
    return parts[1], key


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
