"""Private Ed25519 key files (0600 PEM): the office's signing key, a gate's export key."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core.signing import KeyError_
from kiosk.store.config import write_private


def generate_signing_key(path: Path) -> Ed25519PrivateKey:
    """Create a new private key in a 0600 PEM file; refuses to overwrite one."""
    if path.exists():
        raise KeyError_(f"{path} exists already; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, pem)
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyError_(f"cannot read signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{path} is not an Ed25519 key")
    return key


# Where a copied key is looked for: its content, whatever the file's name, size or encoding.
# Every PKCS#8 Ed25519 key (DER, or inside PEM) holds the algorithm's OID followed by the
# 32-byte seed; PEM, bare base64 and hex are decoded first, and a 32-byte file is a raw seed.
ED25519_SEED_MARK = bytes.fromhex("06032b657004220420")
PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(.*?)-----END", re.DOTALL)
SPACE = re.compile(rb"\s+")
LARGEST_KEY_FILE = 1 << 20  # a key copy, even amid other text, is far smaller; databases are skipped


def _decodings(data: bytes) -> Iterator[bytes]:
    yield data
    for block in PEM_BLOCK.findall(data):
        yield from _decodings_of_text(block)
    yield from _decodings_of_text(data)


def _decodings_of_text(text: bytes) -> Iterator[bytes]:
    compact = SPACE.sub(b"", text)
    for decode in (lambda t: base64.b64decode(t, validate=True), binascii.unhexlify):
        try:
            yield decode(compact)
        except (ValueError, binascii.Error):
            pass


def ed25519_seeds(data: bytes) -> set[bytes]:
    """Every Ed25519 private seed found in ``data`` (a file's content) in any usual encoding."""
    seeds = set()
    for decoded in _decodings(data):
        if len(decoded) == 32:
            seeds.add(decoded)
        start = decoded.find(ED25519_SEED_MARK)
        while start >= 0:
            seed = decoded[start + len(ED25519_SEED_MARK):start + len(ED25519_SEED_MARK) + 32]
            if len(seed) == 32:
                seeds.add(seed)
            start = decoded.find(ED25519_SEED_MARK, start + 1)
    return seeds


def private_keys_in(folder: Path, database: Path) -> Iterator[tuple[Path, Ed25519PrivateKey]]:
    """(file, key) for every Ed25519 private key held anywhere in ``folder`` (files up to 1 MiB).

    ``database`` and its -wal, -shm and -journal files are never opened here: closing any
    descriptor of a file drops every POSIX lock this process holds on it, SQLite's included.
    """
    in_use = {database, *(database.with_name(database.name + end) for end in ("-wal", "-shm", "-journal"))}
    for path in sorted(folder.glob("**/*")):
        try:
            if path in in_use or not path.is_file() or path.stat().st_size > LARGEST_KEY_FILE:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        for seed in sorted(ed25519_seeds(data)):
            yield path, Ed25519PrivateKey.from_private_bytes(seed)
