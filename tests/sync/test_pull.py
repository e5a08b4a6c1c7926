"""A real gate server process and the office client in another process."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
import requests
from sync_helpers import gate_rows, kiosk, office_rows

from bench.sync import fill_events
from kiosk.gate.service import Gate
from kiosk.office.pull import add_gate
from kiosk.office.service import Office
from tests.conftest import NOW, STORES
from tests.relay import HoldingRelay
from tests.servers import ROOT
from tests.waiting import poll

pytestmark = pytest.mark.parametrize("office_store", STORES, indirect=True)  # every test on both stores


def fill(home, count):
    with Gate.open(home) as gate:
        return fill_events(gate.db, count, NOW, gate.gate_id, gate.site_id)


@pytest.mark.slow
def test_a_pull_of_a_large_log_equals_the_gate_log(community, office_with_gate, office_store):
    """100,000 events into SQLite, 30,000 into PostgreSQL (its figures at size: bench/district.py)."""
    count = 100_000 if office_store == "sqlite" else 30_000
    fill(community.gate_home, count)
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""  # quiet when not on a terminal
    expected = gate_rows(community.gate_home)
    assert len(expected) == count
    assert office_rows(office_with_gate) == expected
    again = kiosk(office_with_gate, "office", "pull", "--verbose")
    assert again.returncode == 0
    assert f"0 new events, holding up to seq {count}" in again.stdout
    assert office_rows(office_with_gate) == expected


def start_pull(office_home, *args):
    return subprocess.Popen([sys.executable, "-m", "kiosk", "--home", str(office_home), "office", "pull", *args],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def office_count(office_home) -> int:
    with Office.open(office_home) as office:
        return office.store.conn.execute("SELECT count(*) FROM gate_events").fetchone()[0]


def answer_bytes(server, token, since, limit) -> int:
    """The size of one /events answer: the relay's budget is counted in these."""
    response = requests.get(server.url + "/api/v1/events", params={"since": since, "limit": limit},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    response.raise_for_status()
    return len(response.content)


@pytest.mark.slow
def test_pull_interrupted_at_random_points_ends_with_exactly_the_gate_events(community, office_with_gate, server,
                                                                            gate_token, office_store):
    """Each pull runs through a relay that passes 1.5 to 6 batches and then holds the answer mid-stream:
    the kill lands after at least one batch was stored and before the last, whatever the load. (On
    PostgreSQL two rounds: the gate dies once, the office once; SQLite's six keep the rest.)"""
    chance = random.Random(20261129)
    batch_rows = 400
    relay = HoldingRelay(server.tls_port)  # TLS passes through it untouched: the pin still holds
    with Office.open(office_with_gate) as office:
        add_gate(office, "jinan-gate", relay.url.replace("http://", "https://"), gate_token)
    try:
        for round_no in range(6 if office_store == "sqlite" else 2):
            total = fill(community.gate_home, 10 * batch_rows)[0]  # new events keep coming
            before = office_count(office_with_gate)
            batch = answer_bytes(server, gate_token, before, batch_rows)
            relay.allow(int(batch * chance.uniform(1.5, 6)))
            pull = start_pull(office_with_gate, "--batch", str(batch_rows))
            stored = poll(lambda: relay.holding.is_set() and office_count(office_with_gate) >= before + batch_rows, 120)
            assert stored, (before, office_count(office_with_gate), pull.poll())  # a batch arrived, then the hold
            if round_no % 2 == 0:
                server.kill()  # the gate dies mid-stream: the connection is cut
                out, err = pull.communicate(timeout=120)
                assert pull.returncode == 1, (out, err)
                assert err.startswith("jinan-gate: unreachable or bad answer") or "[truncated]" in err, err
                server.start()
            else:
                pull.kill()  # the office dies mid-batch: its transaction is rolled back
                pull.communicate(timeout=60)
            held = office_rows(office_with_gate)
            assert [row[0] for row in held] == list(range(1, len(held) + 1))  # never a gap nor a duplicate
            assert before + batch_rows <= len(held) < total  # really cut mid-pull
        relay.allow(None)
        final = kiosk(office_with_gate, "office", "pull")
        assert final.returncode == 0, final.stderr
        assert office_rows(office_with_gate) == gate_rows(community.gate_home)
    finally:
        relay.close()


def tamper(gate_home, seq, sql="UPDATE events SET data = '{\"forged\": 1}' WHERE seq = ?"):
    with Gate.open(gate_home) as gate:
        gate.db.conn.execute("DROP TRIGGER events_no_update")
        gate.db.conn.execute(sql, [seq])


def test_a_tampered_event_is_detected_at_the_next_pull(community, office_with_gate):
    fill(community.gate_home, 100)
    assert kiosk(office_with_gate, "office", "pull").returncode == 0
    fill(community.gate_home, 100)
    tamper(community.gate_home, 150)
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 1
    assert result.stderr.startswith("!!! jinan-gate: CHAIN BROKEN: seq after 149: seq 150: content does not "
                                    "match its hash (altered on the gate)")
    assert office_rows(office_with_gate) == gate_rows(community.gate_home)[:149]
    again = kiosk(office_with_gate, "office", "pull")  # refused until an operator resolves it
    assert again.returncode == 1 and "chain broken, pulls refused until resolved" in again.stderr
    assert len(office_rows(office_with_gate)) == 149


def test_a_rewritten_history_is_detected_even_without_new_events(community, office_with_gate):
    fill(community.gate_home, 30)
    assert kiosk(office_with_gate, "office", "pull").returncode == 0
    with Gate.open(community.gate_home) as gate:  # rewrite event 30 and its hash consistently
        from kiosk.core.chain import event_hash

        gate.db.conn.execute("DROP TRIGGER events_no_update")
        row = next(iter(gate.db.query("SELECT * FROM events WHERE seq = 30")))
        row["data"] = '{"forged": 1}'
        gate.db.conn.execute("UPDATE events SET data = ?, hash = ? WHERE seq = 30", [row["data"], event_hash(row)])
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 1
    assert "CHAIN BROKEN" in result.stderr and "rewritten" in result.stderr


def test_a_revoked_token_is_refused_and_reported(community, office_with_gate):
    from kiosk.store import tokens
    with Gate.open(community.gate_home) as gate:
        for row in tokens.list_tokens(gate.db):
            tokens.revoke_token(gate.db, row["id"], NOW)
    fill(community.gate_home, 5)
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 1
    assert "the gate refused the token (wrong or revoked)" in result.stderr
    assert office_rows(office_with_gate) == []
    assert kiosk(office_with_gate, "office", "push").returncode == 1


def test_an_unreachable_gate_does_not_stop_the_others(community, office_with_gate, server, gate_token):
    from tests.servers import free_port

    with Office.open(office_with_gate) as office:
        add_gate(office, "longhai-gate", f"http://127.0.0.1:{free_port()}", gate_token)
    fill(community.gate_home, 10)
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("longhai-gate: unreachable")
    assert len(office_rows(office_with_gate)) == 10
    with Office.open(office_with_gate) as office:  # the same gate under a second name is refused
        add_gate(office, "jinan-again", server.url, gate_token)
    twice = kiosk(office_with_gate, "office", "pull", "jinan-again")
    assert twice.stderr == "jinan-again: [wrong_gate] gate 'jinan-gate' is already pulled as 'jinan-gate'\n"
    assert office_rows(office_with_gate, "jinan-again") == []


def test_clock_offset_is_measured_and_kept_with_each_event(community, office_with_gate):
    fill(community.gate_home, 3)
    assert kiosk(office_with_gate, "office", "pull").returncode == 0
    with Office.open(office_with_gate) as office:
        offset = office.store.conn.execute("SELECT clock_offset_s FROM gates").fetchone()[0]
        assert abs(offset) < 2  # same machine
        assert tuple(office.store.conn.execute("SELECT count(*), min(offset_s) FROM clock_offsets").fetchone()) == (
            1, offset)
        assert [tuple(r) for r in office.store.conn.execute("SELECT DISTINCT clock_offset_s FROM gate_events")] == [
            (offset,)]


def test_push_sends_the_next_bundle(community, office_with_gate):
    result = kiosk(office_with_gate, "office", "push")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "jinan-gate: registry version 2 loaded\n"
    with Gate.open(community.gate_home) as gate:
        from kiosk.store import registry
        assert registry.meta(gate.db)["version"] == "2"
