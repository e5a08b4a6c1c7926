"""Two lanes deciding at the same moment for two members of one household (quota 1).

Both lanes are real Gates on their own connections to the same database. A third
connection holds the write lock until both lanes have reached ``BEGIN IMMEDIATE`` (seen by
SQLite's statement trace, no timing): then it lets go. Deciding inside the write
transaction, the second lane sees the first one's exit; deciding before it, both allow.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate import sync_feed
from kiosk.gate.service import Gate
from kiosk.office.service import Office
from kiosk.sim.demo import SITE
from kiosk.store import events, registry
from kiosk.store.db import open_db, transaction
from tests.conftest import NOW

WAIT_S = 60  # generous: a busy CI machine


def test_two_lanes_at_once_never_both_allow_a_quota_of_one(community):
    clock = FixedClock(NOW)
    lanes = [Gate.open(community.gate_home, clock=clock) for _ in range(2)]
    at_the_lock = [threading.Event(), threading.Event()]
    for gate, arrived in zip(lanes, at_the_lock):
        gate.db.conn.set_trace_callback(lambda sql, arrived=arrived: sql == "BEGIN IMMEDIATE" and arrived.set())
    holder = sqlite3.connect(community.gate_home / "gate.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as a third writer would
    results = {}

    def go_out(index: int, role: str) -> None:
        scan = Scan(direction="out", token=community.tokens[role], lane="out")
        results[role] = lanes[index].check(scan, NOW)

    threads = [threading.Thread(target=go_out, args=(i, role), daemon=True)
               for i, role in enumerate(("resident", "household_member"))]
    try:
        for thread in threads:
            thread.start()
        assert all(arrived.wait(WAIT_S) for arrived in at_the_lock)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for thread in threads:
        thread.join(WAIT_S)
    for gate in lanes:
        gate.close()
    outcomes = sorted((result.decision.outcome, result.decision.codes) for result in results.values())
    assert outcomes == [("allow", ()), ("deny", ("household_quota",))]
    assert all(result.event is not None for result in results.values())  # both recorded


# --- a registry load beside the lanes ------------------------------------------------------

def bigger_registry(office, extra_persons: int) -> dict:
    """The demo site's registry plus ``extra_persons`` in new households (a big load)."""
    tables = registry.registry_snapshot(office.db, SITE)
    tables["households"] += [{"id": f"{SITE}:8-{h}", "site_id": SITE, "building": "8", "unit": "1",
                              "room": str(h)} for h in range(extra_persons // 2)]
    tables["persons"] += [{"id": f"X{p:05d}", "name": f"居民{p}", "household_id": f"{SITE}:8-{p // 2}",
                           "phone": None} for p in range(extra_persons)]
    return tables


def signed_bundle(office, version: int, tables: dict) -> bytes:
    return registry.build_bundle(office.signing_key(), site_id=SITE, version=version, issued=NOW, tables=tables,
                                 settings={}, trusted_keys=[])


class LoaderTrace:
    """A connection's statements inside write transactions, and the rows each transaction's
    ``counted`` statements wrote (a registry load: its swap's); ``pause_at`` (a statement's start) blocks the loader
    there until ``resume`` is set."""

    def __init__(self, conn: sqlite3.Connection, pause_at: str | None = None,
                 counted: tuple[str, ...] = ("INSERT INTO main.", "DELETE FROM main.")) -> None:
        self.conn, self.pause_at, self.counted = conn, pause_at, counted
        self.paused, self.resume = threading.Event(), threading.Event()
        self.write_transactions: list[list[str]] = []
        self.rows_written: list[int] = []
        self._inside, self._counted = False, 0
        conn.set_trace_callback(self._traced)

    def _traced(self, sql: str) -> None:
        if self.pause_at and sql.startswith(self.pause_at) and not self.paused.is_set():
            self.paused.set()
            self.resume.wait(WAIT_S)
        if self._inside:  # the rows the previous statement changed
            previous = self.write_transactions[-1][-1] if self.write_transactions[-1] else ""
            if previous.startswith(self.counted):
                self.rows_written[-1] += self.conn.total_changes - self._counted
            self._counted = self.conn.total_changes
        if sql == "BEGIN IMMEDIATE":
            self._inside, self._counted = True, self.conn.total_changes
            self.write_transactions.append([])
            self.rows_written.append(0)
        elif self._inside:
            self.write_transactions[-1].append(sql)
            self._inside = sql not in ("COMMIT", "ROLLBACK")


def test_a_scan_is_recorded_while_a_big_registry_load_stages_its_rows(community):
    """The load is held in the middle of staging 3,000 new persons; a lane records a scan on
    its own connection meanwhile (were the load holding the write lock, the lane would wait
    out its busy timeout and report "not recorded"). The load's only write transaction is the
    swap, which writes the new rows and nothing of the staging."""
    with Office.open(community.office_home) as office:
        data = signed_bundle(office, 2, bigger_registry(office, 3_000))
    loader = open_db(community.gate_home / "gate.db", "gate")
    trace = LoaderTrace(loader.conn, pause_at="INSERT INTO temp.staged_persons")
    loaded = {}
    thread = threading.Thread(target=lambda: loaded.update(info=registry.load_bundle(loader, data, SITE, NOW)),
                              daemon=True)
    thread.start()
    try:
        assert trace.paused.wait(WAIT_S)
        with Gate.open(community.gate_home, clock=FixedClock(NOW)) as lane:
            result = lane.check(Scan(direction="out", token=community.tokens["resident"], lane="out"), NOW)
        assert result.event is not None and result.decision.outcome == "allow"
    finally:
        trace.resume.set()
        thread.join(WAIT_S)
    assert loaded["info"].counts["persons"] == 3_008
    assert registry.get_person(loader, "X02999")["household_id"] == f"{SITE}:8-1499"
    assert len(trace.write_transactions) == 1
    swap = trace.write_transactions[0]
    assert not [sql for sql in swap if "staged_" in sql]
    assert trace.rows_written == [1_500 + 3_000]  # the new households and persons
    loader.conn.close()


def test_a_next_version_writes_only_its_changes_under_the_lock(community):
    with Office.open(community.office_home) as office:
        tables = bigger_registry(office, 3_000)
        first, tables["persons"][-1]["phone"] = signed_bundle(office, 2, tables), "13900000000"
        second = signed_bundle(office, 3, tables)
    loader = open_db(community.gate_home / "gate.db", "gate")
    registry.load_bundle(loader, first, SITE, NOW)
    trace = LoaderTrace(loader.conn)
    registry.load_bundle(loader, second, SITE, NOW)
    assert trace.rows_written == [1]  # one person's phone
    assert registry.get_person(loader, "X02999")["phone"] == "13900000000"
    loader.conn.close()


def test_a_load_that_lands_between_staging_and_swap_is_not_left_half_applied(community):
    """The staged difference is against version 1; version 2 (another process) lands before the
    swap of version 3: the swap works out the difference again, so the registry is exactly 3."""
    with Office.open(community.office_home) as office:
        tables = registry.registry_snapshot(office.db, SITE)
        in_between = {**tables, "risk_areas": tables["risk_areas"] + [{"code": "999999", "name": "临时",
                                                                       "level": "high"}]}
        middle, last = signed_bundle(office, 2, in_between), signed_bundle(office, 3, tables)
    loader, other = (open_db(community.gate_home / "gate.db", "gate") for _ in range(2))
    trace = LoaderTrace(loader.conn, pause_at="BEGIN IMMEDIATE")
    trace.resume.set()  # the pause runs the other load, in this thread, right before the swap

    def other_load_first(sql: str) -> None:
        if sql == "BEGIN IMMEDIATE" and registry.current_version(other) == 1:
            registry.load_bundle(other, middle, SITE, NOW)

    loader.conn.set_trace_callback(other_load_first)
    registry.load_bundle(loader, last, SITE, NOW)
    assert registry.current_version(loader) == 3
    assert [row["code"] for row in loader.query("SELECT code FROM risk_areas ORDER BY code")] == \
        sorted(row["code"] for row in tables["risk_areas"])
    loader.conn.close()
    other.conn.close()


def test_pruning_goes_in_short_batches(community):
    """1,200 acknowledged events are pruned 500 at a time, each batch its own transaction with
    its anchor (before: one transaction for all; 300,000 kept a scan waiting 4.96 s)."""
    with Gate.open(community.gate_home, clock=FixedClock(NOW)) as gate:
        with transaction(gate.db):
            for i in range(1_200):
                gate.record("ack", NOW, data={"note": i})
        head = events.chain_head(gate.db)
        gate.db.conn.execute("INSERT OR REPLACE INTO sync_acks VALUES (1, ?, ?)", [head[0], "2026-11-29T02:00:00Z"])
        trace = LoaderTrace(gate.db.conn, counted=("DELETE FROM events",))
        pruned = sync_feed.prune(gate.db, NOW + timedelta(days=100), retention_days=30)
        anchor = gate.db.conn.execute("SELECT seq, hash FROM chain_anchor").fetchone()
    assert pruned == 1_200
    assert trace.rows_written[:3] == [500, 500, 200] and not any(trace.rows_written[3:])
    assert anchor == head
