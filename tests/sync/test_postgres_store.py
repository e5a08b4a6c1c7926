"""The office store on PostgreSQL (kiosk.store.postgres): the SQL translation, the schema from
the same migrations as SQLite, monthly partitions made on demand, and `office init --database`.
The pulls, imports, pages and reports on both stores: test_pull, test_usb, tests/web/test_office_web."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from bench.sync import fill_events
from kiosk.cli.root import cli
from kiosk.core.protocol import SyncError
from kiosk.gate import usb_export
from kiosk.gate.service import Gate
from kiosk.office import usb_import
from kiosk.office.pull import EventSink, add_gate, get_gate
from kiosk.office.service import Office
from kiosk.store.db import MIGRATIONS, statements, transaction
from kiosk.store.postgres import PgDatabase, month_of, next_month, schema_to_postgres, to_postgres
from tests.conftest import NOW
from tests.postgres_server import use_database


def test_the_common_sql_is_translated_for_psycopg():
    assert to_postgres("SELECT * FROM gates WHERE name = ? AND url LIKE '%?%'") == \
        "SELECT * FROM gates WHERE name = %s AND url LIKE '%%?%%'"  # a ? in a string stays
    assert to_postgres("SELECT json_object('a', e.x) FROM t e") == "SELECT json_build_object('a', e.x) FROM t e"
    assert to_postgres("INSERT OR IGNORE INTO t VALUES (?)") == "INSERT INTO t VALUES (%s) ON CONFLICT DO NOTHING"
    assert to_postgres("BEGIN IMMEDIATE") == "BEGIN"
    with pytest.raises(ValueError, match="ON CONFLICT"):
        to_postgres("INSERT OR REPLACE INTO t VALUES (?)")


def test_the_office_schema_comes_from_the_sqlite_migrations_with_events_by_month():
    events = next(s for s in statements(MIGRATIONS["office"][0]) if s.startswith("CREATE TABLE gate_events"))
    table, default = schema_to_postgres(events)
    assert "seq BIGINT NOT NULL, id TEXT NOT NULL," in table and "temperature DOUBLE PRECISION" in table
    assert table.endswith("PRIMARY KEY (gate, seq, ts_utc), UNIQUE (id, ts_utc)\n) PARTITION BY RANGE (ts_utc)")
    assert default == "CREATE TABLE gate_events_other PARTITION OF gate_events DEFAULT"
    assert schema_to_postgres("ALTER TABLE gates ADD COLUMN verified_seq INTEGER NOT NULL DEFAULT 0") == [
        "ALTER TABLE gates ADD COLUMN verified_seq BIGINT NOT NULL DEFAULT 0"]
    assert schema_to_postgres("CREATE TABLE p (jpeg BLOB NOT NULL)") == ["CREATE TABLE p (jpeg BYTEA NOT NULL)"]
    assert [month_of("2026-12-31T23:59:59Z"), month_of("2026-13-01"), month_of(None)] == ["2026-12", None, None]
    assert [next_month("2026-11"), next_month("2026-12")] == ["2026-12", "2027-01"]


def gate_events(gate_home, count, start):
    with Gate.open(gate_home) as gate:
        fill_events(gate.db, count, start, gate.gate_id, gate.site_id, step_s=3600.0)
        return [dict(row) for row in gate.db.query("SELECT * FROM events ORDER BY seq")]


def store_batch(office, name, rows):
    with transaction(office.store):
        sink = EventSink(office.store, get_gate(office, name))
        for row in rows:
            sink.add(row)
        sink.save_cursor()


def test_a_new_month_gets_its_partition_and_a_twin_gate_name_stores_nothing(postgres, community, tmp_path):
    url = postgres.new_database()
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(tmp_path / "district"), "office", "init",
                                      "--site", "jinan", "--database", url])
    assert result.exit_code == 0, result.output
    rows = gate_events(community.gate_home, 30, NOW.replace(day=30))  # hourly from 02:00 UTC, 30 November
    with Office.open(tmp_path / "district") as office:
        assert isinstance(office.store, PgDatabase)
        assert [r[0] for r in office.store.execute("SELECT version FROM schema_migrations ORDER BY 1")] == \
            list(range(1, len(MIGRATIONS["office"]) + 1))  # numbered as on SQLite
        for name in ("jinan-gate", "twin"):
            add_gate(office, name, "", "")
        store_batch(office, "jinan-gate", rows)
        assert sorted(tuple(r) for r in office.store.execute(
            "SELECT tableoid::regclass::text, count(*) FROM gate_events GROUP BY 1")) == [
            ("gate_events_2026_11", 22), ("gate_events_2026_12", 8)]
        with pytest.raises(SyncError, match="already stored for another gate name"):
            store_batch(office, "twin", rows)
        assert get_gate(office, "twin")["last_seq"] == 0
        assert office.store.execute("SELECT count(*) FROM gate_events").fetchone()[0] == 30
        later = gate_events(community.gate_home, 1, NOW + timedelta(days=60))[-1:]
        store_batch(office, "jinan-gate", later)  # a pull bringing a new month makes its partition
        assert office.store.execute("SELECT tableoid::regclass::text FROM gate_events WHERE seq = 31").fetchone()[0] \
            == "gate_events_2027_01"
    with Office.open(tmp_path / "district") as office:  # the migrations are not applied twice
        assert office.store.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS["office"])


def test_a_wrong_or_unreachable_database_is_said_plainly(tmp_path):
    runner = CliRunner()
    wrong = runner.invoke(cli, ["--lang", "en", "--home", str(tmp_path / "a"), "office", "init", "--site", "jinan",
                                "--database", "mysql://x"])
    assert wrong.exit_code == 2 and "--database takes a PostgreSQL URL (postgresql://user@host/dbname), not mysql://x" \
        in wrong.output
    gone = runner.invoke(cli, ["--lang", "en", "--home", str(tmp_path / "b"), "office", "init", "--site", "jinan",
                               "--database", f"postgresql://nobody@/x?host={tmp_path}&connect_timeout=5"])
    assert gone.exit_code == 1
    assert gone.output.startswith("Error: [store_unreachable] the office's PostgreSQL database cannot be reached: ")


def test_a_usb_export_is_taken_exactly_once_into_postgresql(postgres, community, tmp_path):
    use_database(community.office_home, postgres.new_database())
    gate_events(community.gate_home, 20, NOW)
    with Gate.open(community.gate_home) as gate:
        usb_export.export_events(gate, 0, tmp_path / "a.events", NOW)
        key = usb_export.export_public_key(gate)
    with Office.open(community.office_home) as office:
        add_gate(office, "jinan-gate", "", "", key)
        first, again = (usb_import.import_events(office, tmp_path / "a.events") for _ in range(2))
        assert (first.new_events, first.already_held, again.new_events, again.already_held) == (20, 0, 0, 20)
        assert office.store.execute("SELECT count(*), max(seq) FROM gate_events").fetchone() == (20, 20)
