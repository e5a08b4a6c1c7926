"""Two lanes deciding at the same moment for two members of one household (quota 1).

Both lanes are real Gates on their own connections to the same database. A third
connection holds the write lock until both lanes have reached ``BEGIN IMMEDIATE`` (seen by
SQLite's statement trace, no timing): then it lets go. Deciding inside the write
transaction, the second lane sees the first one's exit; deciding before it, both allow.
"""

from __future__ import annotations

import sqlite3
import threading

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
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
