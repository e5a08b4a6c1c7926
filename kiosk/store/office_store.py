"""The office store: where an office keeps what a district aggregates, on SQLite or PostgreSQL.

A community office keeps everything in its ``office.db`` SQLite file, as before. A district
office (``kiosk office init --database postgresql://...``, the ``database`` key of its
kiosk.toml) keeps the gates, their pulled events, shift logs, clock offsets, alert
acknowledgements and its page's logins and sessions in PostgreSQL; its own registry, ledger and
pass book stay in ``office.db``. Both are opened here and offer the same surface (see
kiosk.store.postgres): office code writes one SQL for both. docs/storage.md, docs/district.md.
"""

from __future__ import annotations

import sqlite3
from typing import Union

import sqlite_utils

from kiosk.store import db as sqlite_db
from kiosk.store.config import Config, ConfigError
from kiosk.store.postgres import EVENT_TABLE_COLUMNS, PgConnection, PgDatabase, migrate

OfficeStore = Union[sqlite_utils.Database, PgDatabase]
OfficeConnection = Union[sqlite3.Connection, PgConnection]  # ``store.conn``

INSERT_EVENT = (f"INSERT OR IGNORE INTO gate_events ({', '.join(EVENT_TABLE_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in EVENT_TABLE_COLUMNS)})")


def database_url(config: Config) -> str | None:
    """The office's PostgreSQL URL, or None for its SQLite file."""
    return config.get("database") or None


def open_office_store(config: Config, sqlite: sqlite_utils.Database | None = None) -> OfficeStore:
    """The office's store, migrated: PostgreSQL when configured, else its SQLite file (``sqlite``
    when the caller has it open already)."""
    url = database_url(config)
    if url is None:
        return sqlite or sqlite_db.open_db(config.db_path, "office")
    store = connect_postgres(url)
    try:
        if url not in _migrated:  # once per process: the office page opens a connection per request
            migrate(store, sqlite_db.MIGRATIONS["office"], sqlite_db.statements)
            _migrated.add(url)
        registry = sqlite or sqlite_db.open_db(config.db_path, "office")
        try:
            copy_registry(registry, store)  # what office.db's registry changed since: before anything reads it
        finally:
            if sqlite is None:
                registry.conn.close()
    except BaseException:
        store.close()
        raise
    return store


_migrated: set[str] = set()


def connect_postgres(url: str) -> PgDatabase:
    """A connection to the office's PostgreSQL store, or the plain error the CLI shows (never a traceback)."""
    import psycopg

    try:
        return PgDatabase(url)
    except psycopg.OperationalError as exc:
        raise ConfigError(code="store_unreachable", text="district.store_unreachable", error=str(exc).strip()) from exc


def insert_events(store: OfficeStore, rows: list[list]) -> int:
    """Store pulled event rows (values in EVENT_TABLE_COLUMNS order) in the open transaction;
    the number stored: fewer than given when an event id is held already (the caller refuses)."""
    if isinstance(store, PgDatabase):
        return store.insert_events(rows)
    return store.conn.executemany(INSERT_EVENT, rows).rowcount if rows else 0


# The registry tables the office pages and the daily report join (names, households, health and
# its history), in
# the order their foreign keys need.
JOINED_REGISTRY = ("households", "persons", "health", "health_periods")


def copy_registry(db: sqlite_utils.Database, store: OfficeStore) -> bool:
    """Give a PostgreSQL store the registry tables the pages join, as ``office.db`` holds them
    now (the registry itself is edited in office.db only), when they changed since the store's
    last copy (``registry_changes``, counted by office.db's triggers); True when copied. Nothing
    to do on SQLite: one file."""
    if not isinstance(store, PgDatabase):
        return False
    # the count first, then the rows: a change in between is copied again next time, never missed
    changes = db.execute(REGISTRY_CHANGES).fetchone()[0] or 0
    if store.execute(REGISTRY_CHANGES).fetchone()[0] == changes:
        return False
    with sqlite_db.transaction(store):
        store.execute("SELECT pg_advisory_xact_lock(hashtext('kiosk registry copy'))")  # one copier at a time
        if store.execute(REGISTRY_CHANGES).fetchone()[0] == changes:
            return False  # another process copied it while this one waited
        for table in reversed(JOINED_REGISTRY):
            store.execute(f"DELETE FROM {table}")
        for table in JOINED_REGISTRY:
            columns = [column.name for column in db[table].columns]
            store.copy_rows(table, columns, db.execute(f"SELECT {', '.join(columns)} FROM {table}"))
        store.execute("UPDATE registry_changes SET n = ?", [changes])
    return True


REGISTRY_CHANGES = "SELECT n FROM registry_changes"
