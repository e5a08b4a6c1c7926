"""Holder photos at the gate: one small JPEG thumbnail per person, for the guard's face check.

A signed pass proves the pass is genuine, not that the person showing it holds it; the guard
compares the face with this photo. Photos arrive with the signed registry bundle and live only
in the gate's own database (mode 0600): no export, sync answer or report reads this table.
"""

from __future__ import annotations

import hashlib
import sqlite3

import sqlite_utils

# The gate's migration (kiosk.store.db.MIGRATIONS["gate"]).
PHOTOS_SQL = """
CREATE TABLE holder_photos (
    person_id TEXT PRIMARY KEY,
    jpeg BLOB NOT NULL,
    sha256 TEXT NOT NULL
);
"""

# A thumbnail is about 10 KB; anything far larger is not a thumbnail and is refused.
MAX_PHOTO_BYTES = 200_000
JPEG_MAGIC = b"\xff\xd8\xff"


class PhotoError(ValueError):
    """A photo the gate will not store (not a JPEG, too large)."""


def photo_for(db: sqlite_utils.Database, person_id: str) -> bytes | None:
    """The holder's JPEG thumbnail, or None when the gate has no photo on file."""
    row = db.conn.execute("SELECT jpeg FROM holder_photos WHERE person_id = ?", (person_id,)).fetchone()
    return bytes(row[0]) if row else None


def photo_digest(db: sqlite_utils.Database, person_id: str) -> str | None:
    """The photo's SHA-256 (hex): a cache validator for the screen, without reading the bytes."""
    row = db.conn.execute("SELECT sha256 FROM holder_photos WHERE person_id = ?", (person_id,)).fetchone()
    return row[0] if row else None


def replace_photos(conn: sqlite3.Connection, photos: dict[str, bytes]) -> int:
    """Make the stored photos exactly ``photos`` (inside the caller's transaction): a person
    left out, removed from the registry or with photos turned off, loses the photo here. Only
    new, changed and removed photos are written, so a new registry version with the same
    photos holds the write lock for a moment (docs/resilience.md: 200 ms at most)."""
    digests = {}
    for person_id, jpeg in photos.items():
        _check(person_id, jpeg)
        digests[person_id] = hashlib.sha256(jpeg).hexdigest()
    held = dict(conn.execute("SELECT person_id, sha256 FROM holder_photos").fetchall())
    conn.executemany("DELETE FROM holder_photos WHERE person_id = ?", [(pid,) for pid in held if pid not in photos])
    conn.executemany("INSERT INTO holder_photos (person_id, jpeg, sha256) VALUES (?, ?, ?) ON CONFLICT (person_id) "
                     "DO UPDATE SET jpeg = excluded.jpeg, sha256 = excluded.sha256",
                     [(pid, photos[pid], digest) for pid, digest in digests.items() if held.get(pid) != digest])
    return len(photos)


def _check(person_id: str, jpeg: bytes) -> None:
    if not isinstance(jpeg, bytes) or not jpeg.startswith(JPEG_MAGIC):
        raise PhotoError(f"photo of {person_id!r} is not a JPEG")
    if len(jpeg) > MAX_PHOTO_BYTES:
        raise PhotoError(f"photo of {person_id!r} is {len(jpeg)} bytes (at most {MAX_PHOTO_BYTES})")
