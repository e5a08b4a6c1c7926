"""USB fallback for total outages: a signed, chain-verifiable export of a gate's events.

The gate never holds the office signing key, so it signs exports with its own Ed25519
key (``keys/gate-export.key``, created 0600 at the first export). The office knows
that key from ``kiosk office gate add --export-key`` or records it at the first import
(trust on first use) and enforces it afterwards. The hash chain makes the events
verifiable on their own too: an import (kiosk.office.usb_import) must continue what the office
already holds.

File format (UTF-8 NDJSON, constant memory to write and read):
line 1 header ``{"format", "gate_id", "site_id", "since", "created_utc", "public_key"}``,
one line per event, a trailer ``{"count", "last_seq", "last_hash"}``, and a last line
``{"sha256", "signature"}``: Ed25519 over ``kiosk-events/1:`` + SHA-256 of every byte before it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.protocol import USB_FORMAT, signed_export_message
from kiosk.core.signing import public_key_text
from kiosk.gate.sync_feed import event_feed
from kiosk.store.config import open_private
from kiosk.store.keys import generate_signing_key, load_signing_key

EXPORT_KEY = "gate-export.key"


def export_key(gate) -> Ed25519PrivateKey:
    """The gate's export signing key, created by `kiosk init` (older gates: on first use)."""
    path = gate.config.keys_dir / EXPORT_KEY
    if path.exists():
        return load_signing_key(path)
    try:
        return generate_signing_key(path)
    except OSError as exc:  # a card gone read-only before the first export
        raise KioskError("export_key_missing", f"this gate has no export key yet and cannot create one "
                                               f"({exc}); export after repairing the card, or copy "
                                               f"{path.parent.parent / 'gate.db'} to the office") from exc


def published_export_key(gate) -> str | None:
    """The export public key for the office to pin (``/health``), without creating one:
    a read never writes. ``kiosk init`` creates the key; older folders at their first export."""
    path = gate.config.keys_dir / EXPORT_KEY
    return public_key_text(load_signing_key(path).public_key()) if path.exists() else None


def export_public_key(gate) -> str:
    return public_key_text(export_key(gate).public_key())


def export_events(gate, since: int, out: Path, now: datetime) -> dict:
    """Write every event after ``since`` to ``out`` (atomically: a temp file renamed)."""
    key = export_key(gate)
    header = {"format": USB_FORMAT, "gate_id": gate.gate_id, "site_id": gate.site_id, "since": since,
              "created_utc": utc_text(now), "public_key": public_key_text(key.public_key())}
    feed = event_feed(gate.config.db_path, since, limit=-1)  # raises Pruned; -1: no limit in SQLite
    digest, temp = hashlib.sha256(), out.with_name(out.name + ".partial")
    trailer = {"count": 0, "last_seq": since, "last_hash": None}
    with open_private(temp, "wb") as handle:
        def write(data: bytes) -> None:
            digest.update(data)
            handle.write(data)

        write((json.dumps(header, ensure_ascii=False) + "\n").encode())
        for chunk in feed:
            for line in chunk.splitlines():
                row = json.loads(line)
                if "seq" in row:
                    write(line + b"\n")
                    trailer.update(count=trailer["count"] + 1, last_seq=row["seq"], last_hash=row["hash"])
        write((json.dumps(trailer) + "\n").encode())
        signature = key.sign(signed_export_message(digest.digest()))
        handle.write((json.dumps({"sha256": digest.hexdigest(),
                                  "signature": base64.b64encode(signature).decode()}) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(out)
    return {**trailer, "since": since, "path": str(out)}
