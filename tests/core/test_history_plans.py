"""Every history lookup of the rules uses an index (EXPLAIN QUERY PLAN), so a decision costs
the same with a million events in the log as with none (bench/scale.py measures it)."""

from datetime import datetime, timezone

import pytest

from kiosk.store.db import open_db
from kiosk.store.history import EventHistory

SINCE = datetime(2026, 11, 30, tzinfo=timezone.utc)
UNTIL = datetime(2026, 12, 1, tzinfo=timezone.utc)
# The log, and the passback/quota state kept beside it (kiosk.store.movements).
TABLES = ("FROM events", "FROM last_passages", "FROM household_exits")
LOOKUPS = {
    "last_scan_of_pass": lambda h: h.last_scan_of_pass("P1"),
    "last_passage (person)": lambda h: h.last_passage("resident", "R001"),
    "last_passage (vehicle)": lambda h: h.last_passage("vehicle", "陕H12345"),
    "household_exits_since": lambda h: h.household_exits_since("jinan:1-1-101", SINCE, UNTIL),
    "open_fever_refusal": lambda h: h.open_fever_refusal("resident", "R001", SINCE),
}


@pytest.fixture(scope="module")
def gate_db(tmp_path_factory):
    db = open_db(tmp_path_factory.mktemp("plans") / "gate.db", "gate")
    yield db
    db.conn.close()


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_history_lookup_uses_an_index(gate_db, lookup):
    statements: list[str] = []
    gate_db.conn.set_trace_callback(statements.append)  # the SQL as run, parameters bound
    try:
        LOOKUPS[lookup](EventHistory(gate_db))
    finally:
        gate_db.conn.set_trace_callback(None)
    queries = [sql for sql in statements if any(table in sql for table in TABLES)]
    assert len(queries) == 1, statements
    plan = [row[3] for row in gate_db.conn.execute("EXPLAIN QUERY PLAN " + queries[0])]
    on_events = [step for step in plan if step.startswith(("SCAN", "SEARCH")) and "json_each" not in step]
    # a table's own primary key is an index too (sqlite_autoindex_...)
    assert on_events, plan
    assert all(" USING INDEX " in step or " USING COVERING INDEX " in step for step in on_events), plan
