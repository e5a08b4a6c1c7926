"""The gate-office sync protocol: what both sides agree on (see docs/sync.md).

The gate serves its event log under ``/api/v1`` in seq order with the chain hashes
(kiosk.gate.sync_feed); the office pulls, verifies and stores it (kiosk.office.pull).
"""

from __future__ import annotations

import hashlib

from kiosk.core.chain import HASHED_FIELDS
from kiosk.core.errors import KioskError

API = "/api/v1"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 50_000
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER
MAX_SHIFT_DAYS = 400
EVENT_COLUMNS = HASHED_FIELDS[:-1] + ("prev_hash", "hash")



class SyncError(KioskError, ValueError):
    """A sync request or pull was refused."""


class Pruned(SyncError):
    def __init__(self, lowest_seq: int) -> None:
        super().__init__("pruned", f"events before seq {lowest_seq} were pruned on the gate")
        self.lowest_seq = lowest_seq


VERIFY_WINDOW = 5000  # held events the office re-checks per pull, in turn (GET /digest)


def range_digest(hashes) -> str:
    """SHA-256 over (seq, hash) pairs in seq order: the gate's recomputed hashes against the
    office's stored ones, for a range of events the office already holds."""
    digest = hashlib.sha256()
    for seq, hash_ in hashes:
        digest.update(f"{seq}:{hash_}\n".encode())
    return digest.hexdigest()


# The USB fallback's export file (kiosk.gate.usb_export writes it, kiosk.office.usb_import reads it).
USB_FORMAT = "kiosk-events/1"


def signed_export_message(digest: bytes) -> bytes:
    """What the gate's export key signs: the format name and the SHA-256 of the file's content."""
    return USB_FORMAT.encode() + b":" + digest
