"""SQLite storage: one file per role, WAL, synchronous=FULL, numbered migrations.

Every connection is opened through :func:`open_db`, which sets the durability
pragmas and applies pending migrations at start-up, so a freshly copied or older
database is brought up to date before anything reads it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import sqlite_utils

from kiosk.store.movements import MOVEMENTS_SQL
from kiosk.store.office_indexes import OFFICE_ALERTS_INDEX, OFFICE_FACE_CHECK_INDEX, OFFICE_PAGE_INDEXES
from kiosk.store.office_security import SECURITY_LOG_SQL
from kiosk.store.photos import PHOTOS_SQL

BUSY_TIMEOUT_MS = 10_000

# Registry tables: the office edits them; the gate holds a replica from a bundle.
REGISTRY_SQL = """
CREATE TABLE households (
    id TEXT PRIMARY KEY, site_id TEXT NOT NULL,
    building TEXT NOT NULL, unit TEXT NOT NULL, room TEXT NOT NULL
);
CREATE TABLE persons (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, household_id TEXT REFERENCES households(id),
    phone TEXT
);
CREATE TABLE vehicles (
    plate TEXT PRIMARY KEY, household_id TEXT REFERENCES households(id), note TEXT
);
CREATE TABLE passes (
    id TEXT PRIMARY KEY, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
    site_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'blocked')),
    reason TEXT
);
CREATE INDEX passes_subject ON passes(subject_kind, subject_id);
CREATE TABLE health (
    person_id TEXT PRIMARY KEY REFERENCES persons(id),
    status TEXT NOT NULL CHECK (status IN
        ('normal', 'health_monitoring', 'home_isolation', 'central_quarantine')),
    since TEXT, until TEXT, cadre_name TEXT, cadre_phone TEXT
);
CREATE TABLE risk_areas (
    code TEXT PRIMARY KEY, name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high'))
);
CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT);
"""

GATE_V1 = REGISTRY_SQL + """
CREATE TABLE trusted_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    gate_id TEXT NOT NULL, site_id TEXT NOT NULL,
    lane TEXT, direction TEXT, kind TEXT NOT NULL, outcome TEXT, codes TEXT NOT NULL,
    pass_id TEXT, subject_kind TEXT, subject_id TEXT, household_id TEXT, plate TEXT,
    temperature REAL, guard_id TEXT, shift_id TEXT,
    ts_utc TEXT NOT NULL, ts_local TEXT NOT NULL, tz TEXT NOT NULL, clock_synced INTEGER NOT NULL,
    nonce TEXT UNIQUE, data TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE INDEX events_pass ON events(pass_id, seq);
CREATE INDEX events_household ON events(household_id, direction, seq);
CREATE INDEX events_shift ON events(shift_id);
-- Where the chain starts after pruning: the last pruned event's seq and hash.
CREATE TABLE chain_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
-- The office's acknowledgements: only acknowledged events may ever be pruned.
CREATE TABLE sync_acks (id INTEGER PRIMARY KEY CHECK (id = 1), acked_seq INTEGER NOT NULL, acked_at TEXT NOT NULL);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN OLD.seq > COALESCE((SELECT acked_seq FROM sync_acks WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'events are append-only: only acknowledged events may be pruned'); END;
CREATE TABLE guards (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, organisation TEXT,
    role TEXT NOT NULL CHECK (role IN ('guard', 'supervisor')),
    pin_hash TEXT NOT NULL, failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until TEXT,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE duty (
    id INTEGER PRIMARY KEY, guard_id TEXT NOT NULL REFERENCES guards(id), lane TEXT NOT NULL,
    on_utc TEXT NOT NULL, off_utc TEXT, handover_note TEXT
);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT, token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT
);
CREATE TABLE alert_acks (
    event_id TEXT PRIMARY KEY, acked_by TEXT NOT NULL, note TEXT, acked_at TEXT NOT NULL
);
"""

OFFICE_V1 = REGISTRY_SQL + """
CREATE TABLE gates (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, token TEXT NOT NULL, site_id TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0, last_hash TEXT, last_contact_utc TEXT,
    clock_offset_s REAL, chain_broken TEXT
);
CREATE TABLE gate_events (
    gate TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
    gate_id TEXT NOT NULL, site_id TEXT NOT NULL,
    lane TEXT, direction TEXT, kind TEXT NOT NULL, outcome TEXT, codes TEXT NOT NULL,
    pass_id TEXT, subject_kind TEXT, subject_id TEXT, household_id TEXT, plate TEXT,
    temperature REAL, guard_id TEXT, shift_id TEXT,
    ts_utc TEXT NOT NULL, ts_local TEXT NOT NULL, tz TEXT NOT NULL, clock_synced INTEGER NOT NULL,
    nonce TEXT, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    clock_offset_s REAL,
    PRIMARY KEY (gate, seq)
);
CREATE TABLE clock_offsets (gate TEXT NOT NULL, measured_utc TEXT NOT NULL, offset_s REAL NOT NULL);
CREATE TABLE registry_versions (version INTEGER PRIMARY KEY, site_id TEXT, issued_utc TEXT NOT NULL);
"""

GATE_V2 = """
-- Device health of each lane, published by the scan loop for the guard screen.
CREATE TABLE lane_status (
    lane TEXT PRIMARY KEY, camera TEXT, thermometer TEXT, scanner TEXT, detail TEXT,
    updated_utc TEXT NOT NULL
);
-- Temperatures typed by a guard on the web page, taken by the lane's scan loop.
CREATE TABLE manual_readings (
    id INTEGER PRIMARY KEY, lane TEXT NOT NULL, value REAL NOT NULL, guard_id TEXT,
    entered_utc TEXT NOT NULL, consumed_utc TEXT
);
-- Office logins for the web page (role office), passwords as salted scrypt hashes.
CREATE TABLE web_users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('office', 'supervisor')),
    password_hash TEXT NOT NULL, failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until TEXT
);
-- Small facts shared between processes: last office contact, clock offset, etc.
CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT, updated_utc TEXT NOT NULL);
"""

GATE_V3 = """
-- Each lane's current presentation (a code held up): the nonce its event carries, and whether
-- the lane has signalled the decision. A lane restarted after a crash finds here that the
-- presentation it sees again was recorded already, and only finishes signalling it.
CREATE TABLE lane_presentations (
    lane TEXT PRIMARY KEY, token_sha TEXT NOT NULL, nonce TEXT NOT NULL,
    started_utc TEXT NOT NULL, signalled_utc TEXT
);
"""

# Commands from the web process to a lane's process (the web process owns no GPIO): an allowed
# override opens the lane's gate. The lane polls the pending ones and marks each done.
GATE_LANE_COMMANDS = """
CREATE TABLE lane_commands (
    id INTEGER PRIMARY KEY, lane TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('open')),
    event_id TEXT NOT NULL UNIQUE, created_utc TEXT NOT NULL, done_utc TEXT, result TEXT
);
CREATE INDEX lane_commands_pending ON lane_commands(lane) WHERE done_utc IS NULL;
"""

# Sync (office side): which gate answers at a URL, its USB export key, pulled shift logs.
OFFICE_SYNC = """
ALTER TABLE gates ADD COLUMN gate_id TEXT;
ALTER TABLE gates ADD COLUMN export_key TEXT;
ALTER TABLE gates ADD COLUMN shifts_since TEXT;
CREATE INDEX gate_events_shift ON gate_events(gate, shift_id);
CREATE TABLE gate_shift_logs (
    gate TEXT NOT NULL, shift_id TEXT NOT NULL, log TEXT NOT NULL, pulled_utc TEXT NOT NULL,
    PRIMARY KEY (gate, shift_id)
);
"""

# The office's own web page: its logins (office reads and acknowledges, viewer only reads),
# alert acknowledgements across gates, and indexes for its time-ordered pages and contact tracing.
OFFICE_WEB = """
CREATE TABLE web_users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('office', 'viewer')),
    password_hash TEXT NOT NULL, failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until TEXT
);
CREATE TABLE alert_acks (
    event_id TEXT PRIMARY KEY, acked_by TEXT NOT NULL, note TEXT, acked_at TEXT NOT NULL
);
CREATE INDEX gate_events_time ON gate_events(ts_utc, gate, seq);
CREATE INDEX gate_events_subject ON gate_events(subject_id, ts_utc);
CREATE INDEX gate_events_household ON gate_events(household_id, ts_utc);
CREATE INDEX gate_events_plate ON gate_events(plate, ts_utc);
"""

# A typed temperature may be bound to the fever refusal it re-measures (web /actions/temperature);
# the rules look up a subject's recent fever refusal.
GATE_REMEASURE = """
ALTER TABLE manual_readings ADD COLUMN remeasure_of TEXT;
CREATE INDEX events_subject ON events(subject_kind, subject_id, seq);
"""

# The SHA-256 fingerprint of each gate's TLS certificate, pinned by the office (kiosk.office.pinning).
OFFICE_TLS = """
ALTER TABLE gates ADD COLUMN tls_fingerprint TEXT;
"""

# Office only: what the office knows of a person beyond the registry (never in a bundle): the
# identity number as a keyed hash and masked, and the ledger's gender, relation, 户号, 备注.
# Risk areas carry the date of the list they came from (office only: bundles carry code, name, level).
OFFICE_RECORDS = """
CREATE TABLE person_records (
    person_id TEXT PRIMARY KEY, id_hash TEXT UNIQUE, id_masked TEXT, gender TEXT, relation TEXT,
    household_no TEXT, note TEXT
);
ALTER TABLE risk_areas ADD COLUMN listed_on TEXT;
"""

# Visitors (a registry table: the office's visitor passes reach the gates in bundles). The host
# household is looked up, not enforced: a bundle replaces the households under it.
VISITORS_SQL = """
CREATE TABLE visitors (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT, household_id TEXT, purpose TEXT,
    issued_by TEXT
);
"""

# A visitor pass a supervisor issues at the gate: the gate holds no signing key, so it is a local
# row (checked by its pass id typed at the lane) that no bundle replaces.
GATE_VISITORS = VISITORS_SQL + """
CREATE TABLE gate_visitor_passes (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT, household_id TEXT, purpose TEXT,
    site_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'blocked')),
    reason TEXT, issued_by TEXT NOT NULL, event_id TEXT NOT NULL
);
"""

# Key rotation (office): every signing key the office has used, public half only; a retired key is
# carried in bundles (and kept to endorse them) until the passes it signed have expired.
OFFICE_PASSES = VISITORS_SQL + """
CREATE TABLE signing_keys (
    key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_utc TEXT NOT NULL,
    retired_utc TEXT, carry_until TEXT
);
"""

# Server-side records of office logins' web sessions (kiosk.store.web_sessions): logout and
# user removal end them; the cookie only carries the random id. Failed sign-ons with ids that
# do not exist, counted and locked like real ones (kiosk.store.guards), by digest, for a day.
WEB_SESSIONS_SQL = """
CREATE TABLE web_sessions (
    id_sha256 TEXT PRIMARY KEY, user_name TEXT NOT NULL, created_utc TEXT NOT NULL,
    expires_utc TEXT NOT NULL, revoked_utc TEXT
);
"""
UNKNOWN_LOGINS_SQL = """
CREATE TABLE unknown_logins (
    key_sha256 TEXT PRIMARY KEY, failed_attempts INTEGER NOT NULL, locked_until TEXT, last_utc TEXT NOT NULL
);
"""
GATE_SECURITY = WEB_SESSIONS_SQL + UNKNOWN_LOGINS_SQL

# Office: how far the rolling re-check of held events has come, per gate (kiosk.office.pull).
OFFICE_REVERIFY = """
ALTER TABLE gates ADD COLUMN verified_seq INTEGER NOT NULL DEFAULT 0;
"""

# Office: the office page's logins get server-side sessions and unknown-name lockouts too (the
# same tables as a gate's).
OFFICE_SESSIONS = WEB_SESSIONS_SQL + UNKNOWN_LOGINS_SQL

# Every history lookup of the rules (kiosk.store.history) walks an index over a short run of rows,
# whatever the size of the log (a million events in 90 days at a busy gate): a vehicle's passages
# by plate, a subject's refusals, a household's allowed exits by time.
GATE_HISTORY_INDEXES = """
CREATE INDEX events_plate ON events(plate, seq) WHERE plate IS NOT NULL;
CREATE INDEX events_refusals ON events(subject_kind, subject_id, seq) WHERE outcome IN ('deny', 'refer');
CREATE INDEX events_exits ON events(household_id, ts_utc) WHERE direction = 'out' AND outcome = 'allow';
DROP INDEX events_household;
"""

# The office says why it did not acknowledge a gate (its clock was too far off to prune by).
OFFICE_ACK_WITHHELD = """
ALTER TABLE gates ADD COLUMN ack_withheld TEXT;
"""

# Office: holder photos, one thumbnail per person (kiosk.office.photos); a site's go out in its bundle.
OFFICE_PHOTOS_SQL = """
CREATE TABLE person_photos (
    person_id TEXT PRIMARY KEY, jpeg BLOB NOT NULL, sha256 TEXT NOT NULL, imported_utc TEXT NOT NULL
);
"""

# Office: the daily report picks one compound's local day (kiosk office report, the office page);
# the same index serves SQLite and each monthly partition on PostgreSQL (kiosk.store.postgres).
# The day comes first: a filter by compound alone keeps walking gate_events_time, newest first.
OFFICE_REPORT_INDEX = """
CREATE INDEX gate_events_day_site ON gate_events(substr(ts_local, 1, 10), site_id);
"""

# Each person's health status over time (居家隔离, 集中隔离, 健康监测), so a day's report lists
# who was under a measure on that day, not who is now. Kept by triggers on the registry's
# ``health`` row (the ledger import and set_health both write it): a new status closes the
# open period (at the new status's start, or now) and opens its own; a changed end date moves
# the open period's. Periods already running are copied in as they are.
OFFICE_HEALTH_PERIODS = """
CREATE TABLE health_periods (
    id INTEGER PRIMARY KEY, person_id TEXT NOT NULL, status TEXT NOT NULL, since TEXT, until TEXT,
    ended_utc TEXT
);
CREATE INDEX health_periods_person ON health_periods(person_id, ended_utc);
INSERT INTO health_periods (person_id, status, since, until)
    SELECT person_id, status, since, until FROM health WHERE status != 'normal';
CREATE TRIGGER health_period_insert AFTER INSERT ON health WHEN NEW.status != 'normal'
BEGIN
    INSERT INTO health_periods (person_id, status, since, until) VALUES (NEW.person_id, NEW.status, NEW.since, NEW.until);
END;
CREATE TRIGGER health_period_until AFTER UPDATE OF until ON health
    WHEN OLD.status = NEW.status AND OLD.since IS NEW.since AND OLD.until IS NOT NEW.until
BEGIN
    UPDATE health_periods SET until = NEW.until WHERE person_id = NEW.person_id AND ended_utc IS NULL;
END;
CREATE TRIGGER health_period_change AFTER UPDATE OF status, since ON health
    WHEN OLD.status IS NOT NEW.status OR OLD.since IS NOT NEW.since
BEGIN
    UPDATE health_periods SET ended_utc = COALESCE(NEW.since, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        WHERE person_id = NEW.person_id AND ended_utc IS NULL;
    INSERT INTO health_periods (person_id, status, since, until)
        SELECT NEW.person_id, NEW.status, NEW.since, NEW.until WHERE NEW.status != 'normal';
END;
"""

# Office: the seq ranges a gate declared lost (its log_gap events: a truncated WAL), as a JSON list
# of [from, to]; the rolling re-check leaves them out (the office may hold events the gate lost).
OFFICE_LOST_RANGES = """
ALTER TABLE gates ADD COLUMN lost_ranges TEXT;
"""

# Office: a counter of changes to the registry tables a PostgreSQL store copies (names, households,
# health and its periods), kept by office.db's triggers; the store records the count it copied,
# so a rename or a health change reaches the district's pages and reports at the next open.
# NULL until the first change: a store that never copied (NULL too) copies once.
OFFICE_REGISTRY_CHANGES = "CREATE TABLE registry_changes (n INTEGER);\nINSERT INTO registry_changes VALUES (NULL);\n" + "".join(
    f"CREATE TRIGGER registry_changed_{table}_{action.lower()} AFTER {action} ON {table} BEGIN\n"
    "    UPDATE registry_changes SET n = COALESCE(n, 0) + 1;\nEND;\n"
    for table in ("households", "persons", "health", "health_periods") for action in ("INSERT", "UPDATE", "DELETE"))

# Gate: a lane command may also be an alarm (a face mismatch tapped on the screen sounds the
# refusal at its lane). SQLite cannot change a CHECK: the table is made again.
GATE_LANE_ALARMS = """
CREATE TABLE lane_commands_v2 (
    id INTEGER PRIMARY KEY, lane TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('open', 'alarm')),
    event_id TEXT NOT NULL UNIQUE, created_utc TEXT NOT NULL, done_utc TEXT, result TEXT
);
INSERT INTO lane_commands_v2 SELECT id, lane, kind, event_id, created_utc, done_utc, result FROM lane_commands;
DROP TABLE lane_commands;
ALTER TABLE lane_commands_v2 RENAME TO lane_commands;
CREATE INDEX lane_commands_pending ON lane_commands(lane) WHERE done_utc IS NULL;
"""

# Numbered from 1 in list order; append new migrations, never edit an applied one.
MIGRATIONS: dict[str, list[str]] = {"gate": [GATE_V1, GATE_V2, GATE_V3, GATE_REMEASURE, GATE_LANE_COMMANDS,
                                              GATE_VISITORS, GATE_SECURITY, GATE_HISTORY_INDEXES, MOVEMENTS_SQL,
                                              PHOTOS_SQL, GATE_LANE_ALARMS],
                                     "office": [OFFICE_V1, OFFICE_SYNC, OFFICE_TLS, OFFICE_RECORDS, OFFICE_WEB,
                                                OFFICE_PASSES, OFFICE_REVERIFY, OFFICE_SESSIONS, OFFICE_ACK_WITHHELD,
                                                OFFICE_PHOTOS_SQL, OFFICE_REPORT_INDEX, OFFICE_PAGE_INDEXES,
                                                OFFICE_HEALTH_PERIODS, SECURITY_LOG_SQL, OFFICE_LOST_RANGES,
                                                OFFICE_REGISTRY_CHANGES, OFFICE_ALERTS_INDEX,
                                                OFFICE_FACE_CHECK_INDEX]}


def connect(path: str | Path) -> sqlite3.Connection:
    """A raw connection with the kiosk's durability settings (used by benchmarks too).

    On a card that turned read-only the database is opened read-only instead: the gate still
    decides (and says "not recorded"), serves its events to the office and exports them.
    """
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        if not Path(path).exists() or os.access(Path(path).parent, os.W_OK):
            raise
        conn = _connect_read_only(Path(path))
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    # What is deleted is overwritten, not left in free pages: a removed resident's photo, name or
    # movements must not be readable from the file afterwards (the hot path only inserts).
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    # With its -wal and -shm there, SQLite reads the WAL too; without them (a clean shutdown:
    # everything is in the main file) it must be told the file cannot change (immutable).
    wal_kept = path.with_name(path.name + "-wal").exists() and path.with_name(path.name + "-shm").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if wal_kept else "&immutable=1")
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)


def open_db(path: str | Path, role: str) -> sqlite_utils.Database:
    """Open (creating if needed) the role's database and apply pending migrations."""
    if role not in MIGRATIONS:
        raise ValueError(f"unknown database role {role!r}")
    path = Path(path)
    created = not path.exists()
    db = sqlite_utils.Database(connect(path))
    if created:
        path.chmod(0o600)
    migrate(db, role)
    return db


def migrate(db: sqlite_utils.Database, role: str) -> int:
    """Apply the migrations not yet recorded; returns the schema version."""
    conn = db.conn
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for number, script in enumerate(MIGRATIONS[role], start=1):
        if number in done:
            continue
        with transaction(db):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (number,))
    return len(MIGRATIONS[role])


def statements(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    found, current = [], []
    for line in script.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        current.append(line)
        joined = "\n".join(current)
        if sqlite3.complete_statement(joined):
            found.append(joined)
            current = []
    return found


@contextmanager
def transaction(db: sqlite_utils.Database, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    Inside an open transaction it is a SAVEPOINT instead: released on success, rolled back
    to on error. So a state change and the event recording it, each written in its own
    ``transaction``, commit or roll back together when the caller opens one around both.
    (A connection serves one thread at a time: each lane and each web request opens its own.)
    """
    conn = db.conn
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        _after_commit.pop(conn, None)
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        _after_commit.pop(conn, None)
        if conn.in_transaction:  # a COMMIT refused (disk full) leaves the transaction open
            conn.execute("ROLLBACK")
        raise
    for action in _after_commit.pop(conn, {}).values():
        action()


# What to do once the outermost transaction has committed, by connection and name (the last
# one of a name wins): e.g. the event log's watermark (kiosk.store.watermark).
_after_commit: dict[sqlite3.Connection, dict[str, Callable[[], None]]] = {}


def after_commit(conn: sqlite3.Connection, name: str, action: Callable[[], None]) -> None:
    """Run ``action`` after the open transaction commits (never if it rolls back)."""
    _after_commit.setdefault(conn, {})[name] = action


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    # One name serves every depth: ROLLBACK TO and RELEASE act on the newest savepoint
    # of that name, which is always this one.
    conn.execute("SAVEPOINT nested")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # after an automatic rollback the savepoint is gone too
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
        raise
    conn.execute("RELEASE nested")


def integrity_ok(db: sqlite_utils.Database) -> tuple[bool, str]:
    result = db.conn.execute("PRAGMA integrity_check").fetchone()[0]
    return result == "ok", result
