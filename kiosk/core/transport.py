"""What gate and office agree on about the LAN: plain HTTP on loopback only, and the gate's
TLS certificate known by its SHA-256 fingerprint (computed, shown and read back).

A fingerprint is shown as OpenSSL prints it (``openssl x509 -fingerprint -sha256``): upper-case hex pairs joined
by colons, so an operator can compare it with either tool. Read back from any spelling of the
same 32 bytes: colons, spaces or dashes, any case, an optional ``sha256`` prefix.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from kiosk.core.errors import KioskError

_PREFIX = re.compile(r"^\s*(sha-?256)?\s*(fingerprint)?\s*[=:]?\s*", re.IGNORECASE)


def fingerprint_of(der: bytes) -> str:
    """The SHA-256 of a certificate in DER form, as 64 lower-case hex digits."""
    return hashlib.sha256(der).hexdigest()


def shown(fingerprint: str) -> str:
    """``AB:CD:...``: the OpenSSL spelling."""
    return ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2)).upper()


def parse(text: str) -> str:
    """The 64 lower-case hex digits of a fingerprint however it was typed or pasted."""
    digits = re.sub(r"[\s:\-]", "", _PREFIX.sub("", text)).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digits):
        raise KioskError("bad_fingerprint", f"{text!r} is not a SHA-256 fingerprint (64 hex digits, "
                                            f"as `kiosk tls show` prints it on the gate)")
    return digits


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``: the only plain-HTTP hosts."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
