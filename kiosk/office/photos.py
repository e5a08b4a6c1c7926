"""Holder photos at the office: imported from a folder or a ledger's photo column, kept as thumbnails.

Each photo becomes a 160x200 JPEG (a face-ish crop: centred, a little above the middle, where a
portrait's face is), re-encoded without its EXIF (no camera, place or time), at the best quality
that keeps it under :data:`TARGET_BYTES`, so 3,600 persons stay a few megabytes in a bundle.
A file is refused, with its reason, when it is not a JPEG or PNG, cannot be decoded, or is too
large: its size and pixel count are checked from the header before anything is decoded, so a
decompression bomb is never unpacked. Photos leave the office only in the signed bundle.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils
from PIL import Image, ImageOps, UnidentifiedImageError

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.office import identity
from kiosk.office.ledger_table import LedgerError, read_table
from kiosk.store.db import transaction

THUMBNAIL = (160, 200)  # width, height: a passport photo's 4:5
FACE_CENTRE = (0.5, 0.35)  # where the crop is centred: a portrait's face sits above the middle
TARGET_BYTES = 5_000
QUALITIES = (60, 50, 40, 30, 25)
FORMATS = ("JPEG", "PNG")
MAX_FILE_BYTES = 25_000_000  # a phone's photo is a few MB
MAX_PIXELS = 50_000_000  # a 50-megapixel camera; a bomb declares far more
MAX_LEDGER_BYTES = 200_000_000


class PhotoRefused(KioskError):
    """A photo file was refused: ``photo_corrupt``, ``photo_huge``, ``photo_format``, ``photo_unknown_person``,
    ``photo_duplicate`` (a second photo of one person)."""


@dataclass(frozen=True)
class Refusal:
    source: str  # the file's name (an identity number in it masked), or the ledger's row
    code: str


@dataclass
class PhotoImport:
    imported: list[str] = field(default_factory=list)  # person ids
    refused: list[Refusal] = field(default_factory=list)


def thumbnail(data: bytes) -> bytes:
    """The photo as a small JPEG thumbnail; PhotoRefused when it is not a usable JPEG or PNG."""
    if len(data) > MAX_FILE_BYTES:
        raise PhotoRefused("photo_huge", f"{len(data)} bytes (at most {MAX_FILE_BYTES})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused("photo_huge", str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PhotoRefused("photo_corrupt", str(exc)) from exc
    with image:
        if image.format not in FORMATS:
            raise PhotoRefused("photo_format", f"{image.format} is not JPEG or PNG")
        if image.width * image.height > MAX_PIXELS:
            raise PhotoRefused("photo_huge", f"{image.width}x{image.height} pixels (at most {MAX_PIXELS})")
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)  # phones store portraits sideways with a rotation tag
        except (OSError, ValueError, SyntaxError) as exc:
            raise PhotoRefused("photo_corrupt", str(exc)) from exc
        return _encode(ImageOps.fit(_rgb(upright), THUMBNAIL, Image.Resampling.LANCZOS, centering=FACE_CENTRE))


def _rgb(image: Image.Image) -> Image.Image:
    """RGB on white: a transparent PNG's background is white on the card and the screen."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _encode(image: Image.Image) -> bytes:
    """The best quality under TARGET_BYTES (the lowest when none is); no EXIF is written."""
    for quality in QUALITIES:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= TARGET_BYTES:
            break
    return out.getvalue()


# --- storing ---------------------------------------------------------------------------------

def save_photos(db: sqlite_utils.Database, thumbnails: dict[str, bytes], now: datetime) -> None:
    """Store thumbnails (person id -> JPEG), each replacing the person's photo, all or none."""
    with transaction(db) as conn:
        conn.executemany("INSERT INTO person_photos VALUES (?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                         "jpeg = excluded.jpeg, sha256 = excluded.sha256, imported_utc = excluded.imported_utc",
                         [(pid, jpeg, hashlib.sha256(jpeg).hexdigest(), utc_text(now))
                          for pid, jpeg in thumbnails.items()])


def remove_photo(db: sqlite_utils.Database, person_id: str) -> bool:
    """Delete a person's photo; False when there was none."""
    return db.conn.execute("DELETE FROM person_photos WHERE person_id = ?", [person_id]).rowcount > 0


def photo_of(db: sqlite_utils.Database, person_id: str) -> bytes | None:
    row = db.conn.execute("SELECT jpeg FROM person_photos WHERE person_id = ?", [person_id]).fetchone()
    return bytes(row[0]) if row else None


def site_photos(db: sqlite_utils.Database, persons: list[dict]) -> dict[str, bytes]:
    """The photos of these persons (a site's registry rows, as they go into its bundle)."""
    ids = {person["id"] for person in persons}
    return {pid: bytes(jpeg) for pid, jpeg in db.conn.execute("SELECT person_id, jpeg FROM person_photos")
            if pid in ids}


def missing(db: sqlite_utils.Database, site_id: str | None = None) -> list[dict]:
    """Persons without a photo (of one site or all), by household."""
    return _persons(db, "p.id, p.name, p.household_id", "NOT EXISTS (SELECT 1 FROM person_photos f "
                    "WHERE f.person_id = p.id)", site_id)


def on_file(db: sqlite_utils.Database, site_id: str | None = None) -> list[dict]:
    """Persons with a photo: its size and when it was imported (never the photo itself)."""
    return _persons(db, "p.id, p.name, p.household_id, length(f.jpeg) AS bytes, f.imported_utc",
                    "f.person_id IS NOT NULL", site_id)


def _persons(db: sqlite_utils.Database, columns: str, where: str, site_id: str | None) -> list[dict]:
    return list(db.query(
        f"SELECT {columns} FROM persons p JOIN households h ON h.id = p.household_id LEFT JOIN person_photos f "
        f"ON f.person_id = p.id WHERE {where} AND (:site IS NULL OR h.site_id = :site) "
        "ORDER BY h.site_id, p.household_id, p.id", {"site": site_id}))


# --- importing -------------------------------------------------------------------------------

class _Persons:
    """Finds a person by id or by identity number (through the office's keyed hash of it)."""

    def __init__(self, db: sqlite_utils.Database, keys_dir: Path) -> None:
        self.ids = {row[0] for row in db.conn.execute("SELECT id FROM persons")}
        self.by_hash = dict(db.conn.execute("SELECT id_hash, person_id FROM person_records WHERE id_hash IS NOT NULL"))
        self.key = identity.identity_key(keys_dir)

    def find(self, text: object) -> str | None:
        text = str(text or "").strip()
        if identity.looks_like_number(text):
            return self.by_hash.get(identity.number_hash(self.key, text))
        return text if text in self.ids else None


def import_photos(db: sqlite_utils.Database, keys_dir: Path, source: Path, now: datetime) -> PhotoImport:
    """Import a folder of photos named by person id or identity number, or an XLSX ledger's photos."""
    persons = _Persons(db, keys_dir)
    found = _ledger_photos(source, persons) if source.is_file() else _folder_photos(source, persons)
    result, thumbnails = PhotoImport(), {}
    for name, person_id, data in found:
        try:
            if person_id is None:
                raise PhotoRefused("photo_unknown_person", name)
            if person_id in thumbnails:
                raise PhotoRefused("photo_duplicate", name)
            thumbnails[person_id] = thumbnail(data())
            result.imported.append(person_id)
        except PhotoRefused as exc:
            result.refused.append(Refusal(name, exc.code))
    save_photos(db, thumbnails, now)
    return result


def _folder_photos(folder: Path, persons: _Persons):
    """(file name, person id or None, reader) for each file in the folder, by name."""
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        shown = identity.mask(path.stem) + path.suffix if identity.looks_like_number(path.stem) else path.name
        yield shown, persons.find(path.stem), lambda path=path: _read(path)


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PhotoRefused("photo_huge", f"{path.stat().st_size} bytes (at most {MAX_FILE_BYTES})")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PhotoRefused("photo_corrupt", str(exc)) from exc


def _ledger_photos(path: Path, persons: _Persons):
    """(row, person id or None, reader) for each image anchored in a row of an XLSX ledger."""
    import openpyxl

    if path.suffix.lower() != ".xlsx":
        raise PhotoRefused("photo_format", f"{path.name}: photos come in a folder or an XLSX ledger")
    _check_archive(path)
    table = read_table(path)
    rows = {line: values for line, values in table.rows}
    try:
        with warnings.catch_warnings():  # openpyxl opens each image with Pillow, which warns of bombs
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # an image Pillow cannot read is dropped by openpyxl; its person shows as missing a photo
            warnings.filterwarnings("ignore", "The image .* will be removed", UserWarning)
            book = openpyxl.load_workbook(path, data_only=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused("photo_huge", f"{path.name}: {exc}") from exc
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnidentifiedImageError) as exc:
        raise LedgerError("unreadable", f"{path.name} is not an XLSX workbook: {exc}") from exc
    for image in book.active._images:
        line = image.anchor._from.row + 1 if hasattr(image.anchor, "_from") else None
        values = rows.get(line, {})
        person_id = persons.find(values.get("id")) or persons.find(values.get("identity"))
        yield (f"{path.name}:{line}" if line else path.name), person_id, image._data


def _check_archive(path: Path) -> None:
    """Refuse a workbook too large to open, or whose parts unpack into too much (a zip bomb)."""
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise LedgerError("unreadable", f"{path.name} is not an XLSX workbook: {exc}") from exc
    if size > MAX_LEDGER_BYTES or unpacked > MAX_LEDGER_BYTES:
        raise PhotoRefused("photo_huge", f"{path.name}: {max(size, unpacked)} bytes (at most {MAX_LEDGER_BYTES})")
