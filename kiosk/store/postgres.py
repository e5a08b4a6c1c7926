"""The office store on PostgreSQL: the same surface as the SQLite office database, in its SQL.

Office code that reads or writes what a district aggregates (gates, their events, shift logs,
clock offsets, alert acknowledgements, the office page's logins and sessions) talks to a
database through a small part of sqlite_utils' surface: ``query``, ``execute``,
``conn.execute`` (a cursor with ``fetchone``/``fetchall``/``rowcount``), ``conn.in_transaction``
(so :func:`kiosk.store.db.transaction` serves both) and ``db[table]`` with ``insert``, ``upsert``
and ``count_where``. :class:`PgDatabase` offers the same over psycopg, translating the few
differences of the common SQL the office writes (:func:`to_postgres`); the schema comes from the
very migrations SQLite applies (:func:`schema_to_postgres`), with the events partitioned by month.
See docs/storage.md.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader

from kiosk.core.protocol import EVENT_COLUMNS

EVENT_TABLE_COLUMNS = ("gate", *EVENT_COLUMNS, "clock_offset_s")
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

# SQLite's JSON functions the office's queries use, as PostgreSQL functions of the same name and
# meaning over the TEXT columns (codes and data hold JSON text in both stores). json_object is
# renamed to json_build_object by to_postgres: its arguments are of mixed types.
COMPAT_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION json_extract(doc TEXT, path TEXT) RETURNS TEXT
       LANGUAGE sql IMMUTABLE AS $$ SELECT doc::jsonb #>> string_to_array(substr(path, 3), '.') $$""",
    """CREATE OR REPLACE FUNCTION json_each(doc TEXT) RETURNS TABLE (value TEXT)
       LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_array_elements_text(doc::jsonb) $$""",
)


# --- translating the common SQL ---------------------------------------------------------

def to_postgres(sql: str) -> str:
    """A statement in the office's SQLite dialect, for psycopg: ``?`` marks become ``%s`` (and a
    literal ``%`` is doubled), ``json_object`` is ``json_build_object``, ``INSERT OR IGNORE`` is
    ``ON CONFLICT DO NOTHING`` and ``BEGIN IMMEDIATE`` a plain ``BEGIN``."""
    parts = re.split(r"('(?:[^']|'')*')", sql)  # odd parts are string literals
    for index in range(0, len(parts), 2):
        code = parts[index].replace("%", "%%").replace("?", "%s")
        code = re.sub(r"\bjson_object\(", "json_build_object(", code, flags=re.IGNORECASE)
        parts[index] = re.sub(r"\bBEGIN\s+IMMEDIATE\b", "BEGIN", code, flags=re.IGNORECASE)
    for index in range(1, len(parts), 2):
        parts[index] = parts[index].replace("%", "%%")
    text = "".join(parts)
    if re.match(r"\s*INSERT\s+OR\s+IGNORE\s+INTO\b", text, flags=re.IGNORECASE):
        text = re.sub(r"OR\s+IGNORE\s+", "", text, count=1, flags=re.IGNORECASE).rstrip().rstrip(";")
        text += " ON CONFLICT DO NOTHING"
    if re.match(r"\s*INSERT\s+OR\s+REPLACE\b", text, flags=re.IGNORECASE):
        raise ValueError("INSERT OR REPLACE has no PostgreSQL form: write INSERT ... ON CONFLICT (...) DO UPDATE")
    return text


def schema_to_postgres(statement: str) -> list[str]:
    """One statement of an office migration as PostgreSQL statements: 64-bit integers and
    doubles and byte strings (SQLite's INTEGER, REAL and BLOB), and ``gate_events`` partitioned by month of ``ts_utc``.

    A partitioned table's keys must hold the partition column: (gate, seq) and id stay unique
    per month, and the pull's cursor (moved in the same transaction as the rows) keeps them
    unique overall, as on SQLite; an event id seen again comes with its own ts_utc (the time is
    in its hash), so a twin gate name pulling the same events still collides.
    """
    text = re.sub(r"\bINTEGER\b", "BIGINT", statement)
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
    text = re.sub(r"\bBLOB\b", "BYTEA", text)
    if re.match(r"\s*CREATE\s+TRIGGER\s+\w+\s+AFTER\s+(INSERT|UPDATE)\b[^;]*?\bON\s+health\b", text,
                flags=re.IGNORECASE | re.DOTALL):
        return []  # the registry is edited in office.db, whose triggers keep health_periods; copy_registry brings it
    if re.match(r"\s*CREATE\s+TRIGGER\b", text, flags=re.IGNORECASE):
        raise ValueError("triggers are not translated: only those on the registry's health table are known")
    if not re.match(r"\s*CREATE\s+TABLE\s+gate_events\b", text):
        return [text]
    text = text.replace("id TEXT NOT NULL UNIQUE", "id TEXT NOT NULL")
    text = text.replace("PRIMARY KEY (gate, seq)", "PRIMARY KEY (gate, seq, ts_utc), UNIQUE (id, ts_utc)")
    if "UNIQUE (id, ts_utc)" not in text:
        raise ValueError("gate_events changed shape: update schema_to_postgres")
    return [text.rstrip().rstrip(";") + " PARTITION BY RANGE (ts_utc)",
            "CREATE TABLE gate_events_other PARTITION OF gate_events DEFAULT"]


def month_of(ts_utc: Any) -> str | None:
    """``YYYY-MM`` of an event's UTC time, or None (such an event goes to the default partition)."""
    found = MONTH.match(ts_utc) if isinstance(ts_utc, str) else None
    return found.group(0) if found else None


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


# --- the connection ---------------------------------------------------------------------

class PgConnection:
    """The part of sqlite3.Connection the office uses, over one psycopg connection (autocommit:
    transactions are opened by kiosk.store.db.transaction with BEGIN, as on SQLite)."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor:
        return self.raw.execute(to_postgres(sql), list(params))

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(to_postgres(sql), [list(row) for row in rows])
        return cursor

    def close(self) -> None:
        self.raw.close()


class PgTable:
    """``db[name]``: the sqlite_utils table calls the office makes."""

    def __init__(self, db: "PgDatabase", name: str) -> None:
        self.db, self.name = db, name

    def insert(self, row: dict) -> None:
        columns = ", ".join(row)
        self.db.execute(f"INSERT INTO {self.name} ({columns}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))

    def upsert(self, row: dict, pk: str) -> None:
        updates = ", ".join(f"{column} = excluded.{column}" for column in row if column != pk) or f"{pk} = excluded.{pk}"
        self.db.execute(f"INSERT INTO {self.name} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
                        f"ON CONFLICT ({pk}) DO UPDATE SET {updates}", list(row.values()))

    def count_where(self, where: str, params: Iterable[Any] = ()) -> int:
        return self.db.execute(f"SELECT count(*) FROM {self.name} WHERE {where}", params).fetchone()[0]


class PgDatabase:
    """An office store on PostgreSQL (``kiosk office init --database postgresql://...``)."""

    def __init__(self, url: str) -> None:
        raw = psycopg.connect(url, autocommit=True)
        for json_type in ("json", "jsonb"):  # JSON comes back as text, as SQLite's json_object gives it
            raw.adapters.register_loader(json_type, TextLoader)
        self.conn = PgConnection(raw)
        self._months: set[str] = set()

    def __getitem__(self, table: str) -> PgTable:
        return PgTable(self, table)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Iterable[Any] = ()) -> Iterator[dict]:
        with self.conn.raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(to_postgres(sql), list(params))
            yield from cursor

    def insert_events(self, rows: list[list]) -> int:
        """COPY event rows (EVENT_TABLE_COLUMNS) into their months' partitions, creating a
        month's partition when it is first seen; the number stored (fewer: an id already held)."""
        self._ensure_months({month_of(row[EVENT_TABLE_COLUMNS.index("ts_utc")]) for row in rows} - {None})
        try:
            self.copy_rows("gate_events", EVENT_TABLE_COLUMNS, rows)
        except psycopg.errors.UniqueViolation:
            return 0  # the open transaction is aborted: the caller refuses the batch
        return len(rows)

    def copy_rows(self, table: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
        """COPY rows into ``table`` (the fastest way in, for a pull's batch or a registry copy)."""
        with self.conn.raw.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def _ensure_months(self, months: set[str]) -> None:
        """Create the missing monthly partitions, inside the open transaction (DDL is
        transactional here: a rolled-back pull leaves no partition); one creator at a time."""
        missing = months - self._months
        if missing:
            held = {row[0] for row in self.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'gate_events'::regclass")}
            missing = {m for m in missing if partition_name(m) not in held}
        if missing:
            self.execute("SELECT pg_advisory_xact_lock(hashtext('kiosk gate_events partitions'))")
            for month in sorted(missing):
                self.execute(f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF gate_events "
                             f"FOR VALUES FROM ('{month}') TO ('{next_month(month)}')")
        self._months |= months

    def close(self) -> None:
        self.conn.close()


def partition_name(month: str) -> str:
    return f"gate_events_{month.replace('-', '_')}"


def migrate(db: PgDatabase, scripts: list[str], statements) -> int:
    """Apply the office migrations not yet recorded, numbered as on SQLite (schema_migrations);
    ``statements`` splits a script (kiosk.store.db). One migrator at a time (an advisory lock)."""
    conn = db.conn
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('kiosk migrations'))")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for function in COMPAT_FUNCTIONS:
            conn.raw.execute(function)
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for number, script in enumerate(scripts, start=1):
            if number in done:
                continue
            for statement in statements(script):
                for translated in schema_to_postgres(statement):
                    conn.raw.execute(translated)
            conn.execute("INSERT INTO schema_migrations VALUES (?, to_char(now() AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD HH24:MI:SS'))", [number])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(scripts)
