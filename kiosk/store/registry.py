"""The registry: persons, households, vehicles, passes, health, risk areas, settings.

The office edits it and exports a *bundle*: a versioned JSON document signed by the
office key. A gate applies a bundle atomically and refuses one that is older, for
another site, or not signed by a key it trusts.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import sqlite3
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.core import safe_json
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.errors import KioskError
from kiosk.core.plates import normalise_plate
from kiosk.core.rules import RuleSettings
from kiosk.core.signing import key_id, parse_public_key_text, public_key_text, verify
from kiosk.store.db import transaction
from kiosk.store.photos import replace_photos

BUNDLE_FORMAT = "kiosk-registry/1"
# Child tables first when deleting, parents first when inserting.
REGISTRY_TABLES = ("households", "persons", "vehicles", "visitors", "passes", "health", "risk_areas")


class BundleError(KioskError):
    """A registry bundle was refused (e.g. ``not_newer``, ``bad_signature``)."""


class TrustError(KioskError):
    """A change to the trusted keys was refused (``key_not_trusted``, ``last_key``)."""


@dataclass(frozen=True)
class BundleInfo:
    version: int
    site_id: str
    issued_utc: str
    key_id: str
    counts: dict[str, int]


# --- office side -------------------------------------------------------------------

def registry_snapshot(db: sqlite_utils.Database, site_id: str) -> dict[str, list[dict]]:
    """The rows of one site's registry, as they go into a bundle."""
    households = list(db.query("SELECT * FROM households WHERE site_id = ? ORDER BY id", [site_id]))
    ids = {h["id"] for h in households}
    persons = [p for p in db.query("SELECT * FROM persons ORDER BY id") if p["household_id"] in ids]
    person_ids = {p["id"] for p in persons}
    return {
        "households": households,
        "persons": persons,
        "vehicles": [v for v in db.query("SELECT * FROM vehicles ORDER BY plate") if v["household_id"] in ids],
        "visitors": [v for v in db.query("SELECT * FROM visitors ORDER BY id") if v["household_id"] in ids],
        "passes": list(db.query("SELECT * FROM passes WHERE site_id = ? ORDER BY id", [site_id])),
        "health": [h for h in db.query("SELECT * FROM health ORDER BY person_id") if h["person_id"] in person_ids],
        "risk_areas": list(db.query("SELECT code, name, level FROM risk_areas ORDER BY code")),  # the gate's columns
    }


def build_bundle(key: Ed25519PrivateKey, *, site_id: str, version: int, issued: datetime,
                 tables: dict[str, list[dict]], settings: dict[str, Any],
                 trusted_keys: list[str], endorsing_keys: tuple[Ed25519PrivateKey, ...] = (),
                 photos: dict[str, bytes] | None = None) -> bytes:
    """A signed bundle file's bytes. ``trusted_keys`` lets the office rotate keys: a bundle signed
    by a new key and endorsed by the retired one loads on a gate that trusts only the retired key,
    and teaches it the new one. ``photos`` (person id -> JPEG) become exactly the gate's photos."""
    payload = {
        "format": BUNDLE_FORMAT, "site_id": site_id, "version": version,
        "issued_utc": utc_text(issued), "settings": settings,
        "trusted_keys": trusted_keys, "tables": tables,
        "photos": {pid: base64.b64encode(jpeg).decode("ascii") for pid, jpeg in (photos or {}).items()},
    }
    body = gzip.compress(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8"), mtime=0)
    envelope = {
        "format": BUNDLE_FORMAT,
        "key_id": key_id(key.public_key()),
        "payload": base64.b64encode(body).decode("ascii"),
        "signature": base64.b64encode(key.sign(body)).decode("ascii"),
    }
    if endorsing_keys:
        envelope["endorsements"] = [{"key_id": key_id(other.public_key()),
                                     "signature": base64.b64encode(other.sign(body)).decode("ascii")}
                                    for other in endorsing_keys]
    return json.dumps(envelope, indent=1).encode("utf-8")


# --- gate side ---------------------------------------------------------------------

# Parsed keys by their text: every decision reads the trusted keys (another process may change
# them), and parsing one costs more than the whole lookup.
_parsed_key = functools.lru_cache(maxsize=64)(parse_public_key_text)


def trusted_keys(db: sqlite_utils.Database) -> dict[str, Ed25519PublicKey]:
    return dict(_parsed_key(text) for (text,) in db.conn.execute("SELECT public_key FROM trusted_keys"))


def trust_key(db: sqlite_utils.Database, text: str, now: datetime) -> str:
    kid, key = parse_public_key_text(text)
    db["trusted_keys"].upsert({"key_id": kid, "public_key": public_key_text(key),
                               "added_at": utc_text(now)}, pk="key_id")
    return kid


def distrust_key(db: sqlite_utils.Database, kid: str) -> None:
    """Remove a trusted key; refuses to remove the last one (the gate could verify nothing)."""
    if not db["trusted_keys"].count_where("key_id = ?", [kid]):
        raise TrustError("key_not_trusted", f"key {kid} is not trusted here")
    if db["trusted_keys"].count == 1:
        raise TrustError("last_key", "refusing to remove the only trusted key: trust its successor first")
    db["trusted_keys"].delete(kid)


def open_bundle(data: bytes, keys: dict[str, Ed25519PublicKey]) -> dict[str, Any]:
    """Check a bundle's envelope and signature and return its payload. Raises BundleError."""
    try:
        envelope = safe_json.loads(data)
        body = base64.b64decode(envelope["payload"], validate=True)
        signature = base64.b64decode(envelope["signature"], validate=True)
        kid = envelope["key_id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError("malformed", f"not a registry bundle: {exc}") from exc
    if envelope.get("format") != BUNDLE_FORMAT:
        raise BundleError("malformed", f"unsupported bundle format {envelope.get('format')!r}")
    kid, key, signature = _trusted_signature(envelope, kid, signature, keys)
    if key is None:
        raise BundleError("unknown_key", f"bundle signed by key {kid!r}, which this gate does not trust")
    if not verify(key, signature, body):
        raise BundleError("bad_signature", "bundle signature is invalid: forged or damaged")
    try:
        payload = safe_json.loads(_gunzip(body, safe_json.MAX_BYTES))
        int(payload["version"]), payload["site_id"], payload["tables"]
        if parse_utc(payload["issued_utc"]).tzinfo is None:  # the pages and the doctor compute its age
            raise ValueError("issued_utc has no time zone")
    except (OSError, ValueError, KeyError, TypeError, EOFError, AttributeError, zlib.error) as exc:
        raise BundleError("malformed", f"bundle content unreadable: {exc}") from exc
    return payload


def _trusted_signature(envelope: dict, kid: Any, signature: bytes,
                       keys: dict[str, Ed25519PublicKey]) -> tuple[Any, Ed25519PublicKey | None, bytes]:
    """The envelope's own signature if its key is trusted, else an endorsement by a trusted key
    (a gate that has not yet learnt the office's new key)."""
    if isinstance(kid, str) and kid in keys:
        return kid, keys[kid], signature
    endorsements = envelope.get("endorsements")
    for endorsement in endorsements if isinstance(endorsements, list) else []:
        try:
            other, other_signature = endorsement["key_id"], base64.b64decode(endorsement["signature"], validate=True)
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError("malformed", f"not a registry bundle: {exc}") from exc
        if isinstance(other, str) and other in keys:
            return other, keys[other], other_signature
    return kid, None, signature


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes: a small bundle must not unpack into gigabytes."""
    inflater = zlib.decompressobj(wbits=31)  # gzip framing
    data = inflater.decompress(body, limit)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError(f"bundle content larger than {limit} bytes or cut off")
    return data


def current_version(db: sqlite_utils.Database) -> int:
    row = db.conn.execute("SELECT value FROM registry_meta WHERE key = 'version'").fetchone()
    return int(row[0]) if row else 0


def meta(db: sqlite_utils.Database) -> dict[str, str]:
    return {row["key"]: row["value"] for row in db.query("SELECT key, value FROM registry_meta")}


def settings(db: sqlite_utils.Database) -> dict[str, Any]:
    raw = meta(db).get("settings")
    return json.loads(raw) if raw else {}


def load_bundle(db: sqlite_utils.Database, data: bytes, site_id: str, now: datetime) -> BundleInfo:
    """Apply a bundle atomically; refuse older, foreign or badly signed ones.

    The rows are first copied into staging tables of this connection's TEMP schema, which takes
    no lock on the gate's database; only the swap (new and changed rows in, removed rows out)
    holds the write lock, so a lane recording a scan waits for that short transaction only.
    """
    envelope_kid = _peek_key_id(data)
    payload = open_bundle(data, trusted_keys(db))
    version = int(payload["version"])
    if payload["site_id"] != site_id:
        raise BundleError("wrong_site", f"bundle is for site {payload['site_id']!r}, this gate is {site_id!r}")
    _check_newer(db, version)
    _check_settings(payload.get("settings", {}))
    try:  # rows the database refuses roll the whole bundle back
        photos = {pid: base64.b64decode(text, validate=True) for pid, text in payload.get("photos", {}).items()}
        with _staged(db, payload["tables"]) as swap, transaction(db):
            _check_newer(db, version)  # again under the lock: another process may have loaded one meanwhile
            swap()
            replace_photos(db.conn, photos)
            for text in payload.get("trusted_keys", []):
                trust_key(db, text, now)
            db["registry_meta"].upsert_all([
                {"key": "version", "value": str(version)},
                {"key": "site_id", "value": site_id},
                {"key": "issued_utc", "value": payload["issued_utc"]},
                {"key": "loaded_utc", "value": utc_text(now)},
                {"key": "key_id", "value": envelope_kid},
                {"key": "settings", "value": json.dumps(payload.get("settings", {}))},
            ], pk="key")
    except (sqlite3.DatabaseError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise BundleError("malformed", f"bundle rows refused by the database: {exc}") from exc
    counts = {t: len(payload["tables"].get(t, [])) for t in REGISTRY_TABLES}
    return BundleInfo(version, site_id, payload["issued_utc"], envelope_kid, counts)


def _check_newer(db: sqlite_utils.Database, version: int) -> None:
    if version <= current_version(db):
        raise BundleError("not_newer", f"bundle version {version} is not newer than the loaded "
                                       f"version {current_version(db)}")


def _check_settings(settings: Any) -> None:
    """Refuse settings the rules could not use, so a bad bundle cannot stop every decision."""
    try:
        RuleSettings.from_sources({}, settings.get("rules"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise BundleError("malformed", f"bundle rule settings are invalid: {exc}") from exc


# --- staging and swap ----------------------------------------------------------------
# In this connection's TEMP schema (no lock on the gate's database), per registry table:
# ``staged_<table>``, the bundle's rows (the table's columns, no constraints: the swap's INSERT
# checks them; a unique index on the key refuses a bundle repeating one); ``changed_<table>``,
# its rows that are new or differ from the loaded registry; ``removed_<table>``, the keys of
# loaded rows the bundle no longer has.

@contextmanager
def _staged(db: sqlite_utils.Database, tables: dict[str, Any]) -> Iterator[Callable[[], None]]:
    """Stage the bundle's rows and their difference to the loaded registry without the write
    lock; give the swap, to call inside the write transaction; drop the TEMP tables afterwards."""
    conn = db.conn
    try:
        with transaction(db, immediate=False):  # one snapshot of the registry; writes TEMP only
            for table in REGISTRY_TABLES:
                _stage_table(conn, table, tables.get(table, []))
            base_version = current_version(db)
            _diff(conn)
        yield lambda: _swap(db, base_version)
    finally:
        for table in REGISTRY_TABLES:
            for kind in ("staged", "changed", "removed"):
                conn.execute(f"DROP TABLE IF EXISTS temp.{kind}_{table}")


def _stage_table(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    columns, key = _columns(conn, table)
    conn.execute(f"DROP TABLE IF EXISTS temp.staged_{table}")
    conn.execute(f"CREATE TEMP TABLE staged_{table} AS SELECT * FROM main.{table} WHERE 0")
    conn.execute(f"CREATE UNIQUE INDEX temp.staged_{table}_key ON staged_{table} ({', '.join(key)})")
    named = list(dict.fromkeys(name for row in rows for name in row))
    unknown = [name for name in named if name not in columns]
    if unknown:
        raise ValueError(f"table {table} has no column named {unknown[0]!r}")
    if named:
        conn.executemany(f"INSERT INTO temp.staged_{table} ({', '.join(named)}) "
                         f"VALUES ({', '.join('?' for _ in named)})",
                         ([row.get(name) for name in named] for row in rows))
    if conn.execute(f"SELECT 1 FROM temp.staged_{table} WHERE {' OR '.join(f'{k} IS NULL' for k in key)}").fetchone():
        raise ValueError(f"a row of table {table} has no {'/'.join(key)}")


def _diff(conn: sqlite3.Connection) -> None:
    """The changed and removed rows of every registry table, against the registry as it is now."""
    for table in REGISTRY_TABLES:
        columns, key = _columns(conn, table)
        names, same_key = ", ".join(columns), " AND ".join(f"staged.{name} IS {table}.{name}" for name in key)
        conn.execute(f"DROP TABLE IF EXISTS temp.changed_{table}")
        conn.execute(f"DROP TABLE IF EXISTS temp.removed_{table}")
        conn.execute(f"CREATE TEMP TABLE changed_{table} AS SELECT {names} FROM temp.staged_{table} "
                     f"EXCEPT SELECT {names} FROM main.{table}")
        conn.execute(f"CREATE TEMP TABLE removed_{table} AS SELECT {', '.join(key)} FROM main.{table} "
                     f"WHERE NOT EXISTS (SELECT 1 FROM temp.staged_{table} AS staged WHERE {same_key})")


def _swap(db: sqlite_utils.Database, base_version: int) -> None:
    """Make the registry tables equal the staged ones (inside the write transaction): changed
    rows in, parents first, then removed rows out, children first. Unchanged rows are not
    touched, so a new version of the same registry is a short transaction."""
    conn = db.conn
    if current_version(db) != base_version:  # another load came in between: the difference is stale
        _diff(conn)
    for table in REGISTRY_TABLES:
        columns, key = _columns(conn, table)
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
        conn.execute(f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT * FROM temp.changed_{table} "
                     f"WHERE true ON CONFLICT ({', '.join(key)}) DO "
                     + (f"UPDATE SET {updates}" if updates else "NOTHING"))
    for table in reversed(REGISTRY_TABLES):
        key = ", ".join(_columns(conn, table)[1])
        conn.execute(f"DELETE FROM main.{table} WHERE ({key}) IN (SELECT {key} FROM temp.removed_{table})")


def _columns(conn: sqlite3.Connection, table: str) -> tuple[list[str], list[str]]:
    """A registry table's columns and its primary key's columns, in order."""
    info = conn.execute(f"PRAGMA main.table_info({table})").fetchall()
    return [row[1] for row in info], [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]


def load_bundle_file(db: sqlite_utils.Database, path: Path, site_id: str, now: datetime) -> BundleInfo:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError("unreadable", f"cannot read {path}: {exc}") from exc
    return load_bundle(db, data, site_id, now)


def _peek_key_id(data: bytes) -> str:
    try:
        return str(safe_json.loads(data).get("key_id", ""))
    except (ValueError, AttributeError):
        return ""


# --- lookups used by the rules ------------------------------------------------------

def get_pass(db: sqlite_utils.Database, pass_id: str) -> dict | None:
    return _one(db, "SELECT * FROM passes WHERE id = ?", pass_id)


def get_person(db: sqlite_utils.Database, person_id: str) -> dict | None:
    return _one(db, "SELECT * FROM persons WHERE id = ?", person_id)


def get_vehicle(db: sqlite_utils.Database, plate: str) -> dict | None:
    return _one(db, "SELECT * FROM vehicles WHERE plate = ?", normalise_plate(plate))


def get_household(db: sqlite_utils.Database, household_id: str | None) -> dict | None:
    return _one(db, "SELECT * FROM households WHERE id = ?", household_id) if household_id else None


def get_visitor(db: sqlite_utils.Database, visitor_id: str) -> dict | None:
    """An office visitor from the bundle, else (on a gate) one a supervisor let in at this gate."""
    return _one(db, "SELECT * FROM visitors WHERE id = ?", visitor_id) or (_one(
        db, "SELECT id, name, phone, household_id, purpose, issued_by FROM gate_visitor_passes WHERE id = ?",
        visitor_id) if db["gate_visitor_passes"].exists() else None)


def get_health(db: sqlite_utils.Database, person_id: str) -> dict | None:
    return _one(db, "SELECT * FROM health WHERE person_id = ?", person_id)


def _one(db: sqlite_utils.Database, sql: str, value: Any) -> dict | None:
    rows = list(db.query(sql, [value]))
    return rows[0] if rows else None


class RegistryView:
    """The registry replica and trusted keys, as the rules see them (kiosk.core.rules.Registry)."""

    def __init__(self, db: sqlite_utils.Database, site_id: str, keys: dict[str, Ed25519PublicKey]) -> None:
        self.db, self.site_id, self.keys = db, site_id, keys

    def pass_row(self, pass_id: str) -> dict | None:
        return get_pass(self.db, pass_id) or _one(
            self.db, "SELECT id, 'visitor' AS subject_kind, id AS subject_id, site_id, valid_from, valid_until, "
            "status, reason FROM gate_visitor_passes WHERE id = ?", pass_id)

    def person(self, person_id: str) -> dict | None:
        return get_person(self.db, person_id)

    def vehicle(self, plate: str) -> dict | None:
        return get_vehicle(self.db, plate)

    def health(self, person_id: str) -> dict | None:
        return get_health(self.db, person_id)

    def visitor(self, visitor_id: str) -> dict | None:
        return get_visitor(self.db, visitor_id)

    def vehicle_pass(self, plate: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM passes WHERE subject_kind = 'vehicle' AND subject_id = ? "
                                  "ORDER BY status = 'active' DESC, valid_until DESC LIMIT 1",
                                  [normalise_plate(plate)]))
        return rows[0] if rows else None
