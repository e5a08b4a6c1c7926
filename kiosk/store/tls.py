"""The gate's own TLS key and self-signed certificate: one 0600 PEM file, ``keys/tls.pem``.

Key and certificate live in one file so that a rotation replaces both at once (a rename);
a server started in between never pairs a new certificate with an old key. The office
does not trust the certificate through any authority: it pins its SHA-256 fingerprint
(``kiosk office gate add --fingerprint``), so the name and the validity dates only
describe it, and the certificate is made valid for long: it changes only by
``kiosk tls rotate``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.core.errors import KioskError
from kiosk.core.transport import fingerprint_of
from kiosk.store.config import Config, write_private

FILE_NAME = "tls.pem"
VALID_DAYS = 20 * 365


def certificate_path(config: Config):
    return config.keys_dir / FILE_NAME


def fingerprint(config: Config) -> str:
    """The fingerprint of the certificate the gate serves (64 hex digits)."""
    path = certificate_path(config)
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError as exc:
        raise KioskError("no_certificate", f"{path} does not exist") from exc
    return fingerprint_of(certificate.public_bytes(serialization.Encoding.DER))


def ensure_certificate(config: Config) -> str:
    """The gate's certificate fingerprint, making the key and certificate first if there are none."""
    if not certificate_path(config).exists():
        return rotate(config)
    return fingerprint(config)


def rotate(config: Config) -> str:
    """A new key and certificate in place of the old ones; returns the new fingerprint.

    A running ``kiosk serve`` keeps the old ones until it is restarted.
    """
    key = ec.generate_private_key(ec.SECP256R1())  # fast to sign on a Pi, understood by every client
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, config.settings.gate_id)])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=VALID_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + certificate.public_bytes(serialization.Encoding.PEM)
    path = certificate_path(config)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = path.with_name(FILE_NAME + ".new")
    write_private(fresh, pem)
    os.replace(fresh, path)
    return fingerprint_of(certificate.public_bytes(serialization.Encoding.DER))
