"""Events lost from the card's tail (a truncated WAL), and what the gate does about it.

The gate recorded seq 1-3 and the office pulled them; then the card lost the WAL with the
processes stopped. The gate keeps deciding but records nothing (a new event would take seq 1
again, which the office already holds) until a supervisor acknowledges the loss: a `log_gap`
event declares seqs 1-3 lost and takes seq 4; the office links it to what it holds, keeps the
three events it has, and goes on pulling without a chain break.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate import doctor, sync_feed
from kiosk.gate.service import Gate, NotRecorded
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.sim.demo import GUARD, SUPERVISOR
from kiosk.store import watermark, web_users
from tests.conftest import NOW
from tests.resilience.test_failing_storage import gate_that_lost_its_wal, serve
from tests.web.conftest import TOKEN
from web import create_app

LOST = ("events lost: the log ends at seq 0 but had reached seq 3; nothing is recorded until a supervisor "
        "acknowledges the gap (kiosk log-gap)")


def kiosk(home: Path, *args: str):
    return CliRunner().invoke(cli, ["--home", str(home), "--lang", "en", *args])


@pytest.fixture
def lost_tail(community, tmp_path):
    """(the gate folder that lost seq 1-3 from its WAL, the office's token, the clock)."""
    return gate_that_lost_its_wal(community, tmp_path)


def test_lost_events_stop_recording_until_a_supervisor_declares_the_gap(community, lost_tail):
    cut, secret, clock = lost_tail
    resident = Scan(direction="out", token=community.tokens["second_resident"], lane="out")
    with Gate.open(cut, clock=clock) as gate:
        with pytest.raises(NotRecorded) as refused:
            gate.check(resident, clock.advance(seconds=20))
        assert (refused.value.decision.outcome, str(refused.value)) == ("allow", LOST)  # decided, not recorded
        assert gate.db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0

    guard = kiosk(cut, "log-gap", GUARD[0], "--pin", GUARD[2])
    assert (guard.exit_code, guard.output.strip()) == (
        1, "Error: [supervisor_required] only a supervisor can acknowledge lost events")
    acknowledged = kiosk(cut, "log-gap", SUPERVISOR[0], "--pin", SUPERVISOR[2])
    assert (acknowledged.exit_code, acknowledged.output) == (
        0, "Lost events 1-3 acknowledged by S001 (event seq 4): recording goes on\n")
    again = kiosk(cut, "log-gap", SUPERVISOR[0], "--pin", SUPERVISOR[2])
    assert (again.exit_code, again.output) == (
        1, "No events were lost: the event log's head is not below its watermark. Nothing recorded\n")
    verified = kiosk(cut, "verify-log")
    assert verified.exit_code == 0, verified.output
    assert "db_lost_tail" not in {finding.key for finding in doctor.diagnose(cut, camera_timeout=0.1)}

    with Gate.open(cut, clock=clock) as gate:
        event = gate.check(resident, clock.advance(seconds=20)).event
        gap = gate.db.conn.execute("SELECT kind, guard_id, prev_hash, data FROM events WHERE seq = 4").fetchone()
    assert event["seq"] == 5
    assert gap[:3] == ("log_gap", "S001", "0" * 64)  # it follows what the gate still has: nothing
    assert {k: v for k, v in json.loads(gap[3]).items() if k != "lost_head_hash"} == {
        "lost_from": 1, "lost_to": 3, "name": SUPERVISOR[1]}

    url, stop = serve(cut, clock)
    try:
        with Office.open(community.office_home) as office:
            pull.add_gate(office, "jinan-gate", url, secret)
            first, second = (pull.pull_gate(office, "jinan-gate", clock.now) for _ in range(2))
            held = office.db.conn.execute("SELECT seq, kind FROM gate_events WHERE gate = 'jinan-gate' "
                                          "ORDER BY seq").fetchall()
            gate_row = pull.get_gate(office, "jinan-gate")
    finally:
        stop()
    assert (first.ok, first.broken, first.new_events, second.ok, second.broken) == (True, False, 2, True, False)
    assert held == [(1, "scan"), (2, "scan"), (3, "scan"), (4, "log_gap"), (5, "scan")]  # the office keeps 1-3
    assert (gate_row["chain_broken"], json.loads(gate_row["lost_ranges"])) == (None, [[1, 3]])
    assert json.loads(gap[3])["lost_head_hash"] == office_hash_of(community, 3)
    assert office_alerts(community, clock) == [
        f"jinan-gate Lost events declared: seq 1–3 (lost on the gate's card; the office keeps its copies) {SUPERVISOR[1]} Acknowledge"]


def office_alerts(community, clock) -> list[str]:
    """The open alerts on the office's page, as text (the declared gap is one: the office must know)."""
    with Office.open(community.office_home) as office:
        web_users.add_user(office.store, "duty-office", "office", "office-pass-2026", "office")
    page = create_app({"KIOSK_HOME": str(community.office_home), "CLOCK": clock, "TESTING": True}).test_client()
    login = TOKEN.search(page.get("/login").get_data(as_text=True)).group(1)
    page.post("/login", data={"name": "duty-office", "password": "office-pass-2026", "csrf_token": login})
    rows = re.findall(r'<tr class="open" id="alert-[^"]+">(.*?)</tr>', page.get("/alerts?lang=en").get_data(as_text=True),
                      re.S)
    texts = [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip() for row in rows]
    return [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d ", "", text) for text in texts]  # less the time


def office_hash_of(community, seq: int) -> str:
    with Office.open(community.office_home) as office:
        return office.db.conn.execute("SELECT hash FROM gate_events WHERE gate = 'jinan-gate' AND seq = ?",
                                      [seq]).fetchone()[0]


def test_a_deleted_shm_with_the_processes_stopped_loses_nothing(community, tmp_path):
    """The -shm is only the WAL's shared index: with every process stopped, SQLite rebuilds it
    from the WAL at the next open. (With processes running it is outside SQLite's guarantees:
    restart them; docs/resilience.md.)"""
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        gate.db.conn.execute("PRAGMA wal_autocheckpoint=0")  # the events are only in the WAL...
        for role in ("resident", "household_member", "monitored"):
            gate.check(Scan(direction="in", token=community.tokens[role], temperature=36.5, lane="in"),
                       clock.advance(seconds=20))
        cut = Path(shutil.copytree(community.gate_home, tmp_path / "cut"))  # ...when the power goes
    assert (cut / "gate.db-wal").stat().st_size > 0
    (cut / "gate.db-shm").unlink()

    verified = kiosk(cut, "verify-log")
    assert (verified.exit_code, verified.output) == (0, "ok: 3 events checked\n")
    findings = {finding.key: finding for finding in doctor.diagnose(cut, camera_timeout=0.1)}
    assert "db_lost_tail" not in findings and "db_damaged" not in findings
    assert findings["chain_ok"].line("en") == "[OK] Event log: 3 events, every one matches its hash"
    with Gate.open(cut, clock=clock) as gate:
        event = gate.check(Scan(direction="out", token=community.tokens["resident"], lane="out"),
                           clock.advance(seconds=20)).event
    assert event["seq"] == 4


def test_pruning_goes_past_a_declared_gap_wider_than_a_batch(community):
    """Ten events, then the card lost up to seq 700 (the watermark says so): after the supervisor's
    `log_gap` (seq 701) and one more event, pruning takes all twelve."""
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        for i in range(10):
            gate.record("ack", clock.advance(seconds=1), data={"note": i})
        watermark.write(watermark.path_of(gate.db.conn), 700, "f" * 64)  # what the card had reached
        gap = gate.acknowledge_lost_events(SUPERVISOR[0], SUPERVISOR[2], clock.advance(seconds=1))
        last = gate.record("ack", clock.advance(seconds=1), data={"note": "after"})
        gate.db.conn.execute("INSERT INTO sync_acks VALUES (1, ?, ?)", [last["seq"], "2026-11-29T02:00:00Z"])
        pruned = sync_feed.prune(gate.db, NOW + timedelta(days=100), retention_days=30)
        anchor = gate.db.conn.execute("SELECT seq FROM chain_anchor").fetchone()[0]
    assert (gap["seq"], last["seq"], pruned, anchor) == (701, 702, 12, 702)
