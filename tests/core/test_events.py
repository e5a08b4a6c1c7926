"""The append-only, hash-chained event log: triggers, tamper detection, stamps, pruning."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import timedelta

import pytest

from kiosk.core.clock import FixedClock, Stamp
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.store import events
from tests.conftest import NOW


@pytest.fixture
def logged(gate, community, clock):
    """A gate with five events: sign-on, four scans."""
    gate.sign_on("G001", "1234", "in", NOW)
    for role, direction in [("resident", "in"), ("monitored", "in"), ("resident", "out"), ("revoked", "in")]:
        gate.check(Scan(direction=direction, token=community.tokens[role], temperature=36.6, lane=direction),
                   clock.advance(minutes=1))
    return gate


def attacker(gate) -> sqlite3.Connection:
    """A second connection to the same file with the append-only triggers dropped."""
    conn = sqlite3.connect(gate.config.db_path, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    return conn


def problems(gate) -> list[str]:
    return events.verify_log(gate.db).problems


def test_intact_chain_verifies(logged):
    report = events.verify_log(logged.db)
    assert (report.ok, report.checked, report.problems) == (True, 5, [])
    rows = list(events.iter_events(logged.db))
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == events.GENESIS_HASH
    assert all(r["prev_hash"] == p["hash"] for p, r in zip(rows, rows[1:]))
    assert all(events.event_hash(r) == r["hash"] for r in rows)
    assert len({r["id"] for r in rows}) == 5
    assert events.chain_head(logged.db) == (5, rows[-1]["hash"])


def test_empty_log_verifies_from_genesis(gate):
    assert events.chain_head(gate.db) == (0, events.GENESIS_HASH)
    assert events.verify_log(gate.db).ok


@pytest.mark.parametrize("statement", [
    "UPDATE events SET outcome = 'allow' WHERE seq = 5",
    "UPDATE events SET temperature = 36.0",
    "DELETE FROM events WHERE seq = 2",
    "DELETE FROM events",
])
def test_triggers_refuse_update_and_delete(logged, statement):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        logged.db.conn.execute(statement)
    assert events.verify_log(logged.db).ok and logged.db["events"].count == 5


def test_edited_row_is_detected(logged):
    attacker(logged).execute("UPDATE events SET outcome = 'allow', codes = '[]' WHERE seq = 5")
    assert problems(logged) == ["seq 5: content does not match its hash (altered)"]


def test_edited_row_with_recomputed_hash_breaks_the_next_link(logged):
    row = dict(next(iter(logged.db.query("SELECT * FROM events WHERE seq = 3"))), temperature=39.5)
    attacker(logged).execute("UPDATE events SET temperature = 39.5, hash = ? WHERE seq = 3", [events.event_hash(row)])
    assert problems(logged) == ["seq 4: prev_hash does not match the previous event"]


def test_deleted_row_is_detected(logged):
    attacker(logged).execute("DELETE FROM events WHERE seq = 3")
    assert problems(logged) == ["seq 4: expected seq 3 (events missing)",
                                "seq 4: prev_hash does not match the previous event"]


def test_reordered_rows_are_detected(logged):
    conn = attacker(logged)
    conn.execute("UPDATE events SET seq = 100 WHERE seq = 2")
    conn.execute("UPDATE events SET seq = 2 WHERE seq = 3")
    conn.execute("UPDATE events SET seq = 3 WHERE seq = 100")
    assert problems(logged) == [
        "seq 2: prev_hash does not match the previous event",
        "seq 2: content does not match its hash (altered)",
        "seq 3: prev_hash does not match the previous event",
        "seq 3: content does not match its hash (altered)",
        "seq 4: prev_hash does not match the previous event",
    ]


def test_inserted_row_with_a_valid_own_hash_is_detected(logged):
    conn = attacker(logged)
    original = next(iter(logged.db.query("SELECT * FROM events WHERE seq = 3")))
    previous = next(iter(logged.db.query("SELECT * FROM events WHERE seq = 2")))
    forged = dict(original, id="forged", subject_id="R008", prev_hash=previous["hash"])
    forged["hash"] = events.event_hash(forged)
    conn.execute("DELETE FROM events WHERE seq = 3")
    conn.execute(f"INSERT INTO events ({', '.join(forged)}) VALUES ({', '.join('?' for _ in forged)})",
                 list(forged.values()))
    assert problems(logged) == ["seq 4: prev_hash does not match the previous event"]


def test_forged_row_appended_after_the_head_is_detected(logged):
    head = next(iter(logged.db.query("SELECT * FROM events WHERE seq = 5")))
    forged = dict(head, seq=6, id="forged", nonce=None, prev_hash="f" * 64)
    attacker(logged).execute(f"INSERT INTO events ({', '.join(forged)}) VALUES ({', '.join('?' for _ in forged)})",
                             list(forged.values()))
    assert problems(logged) == ["seq 6: prev_hash does not match the previous event",
                                "seq 6: content does not match its hash (altered)"]


def test_verify_rows_continues_from_a_known_head(logged):
    rows = list(events.iter_events(logged.db))
    assert events.verify_rows(iter(rows[2:]), 2, rows[1]["hash"]).ok
    assert events.verify_rows(iter(rows[3:]), 2, rows[1]["hash"]).problems[0] == \
        "seq 4: expected seq 3 (events missing)"


def test_pruning_acknowledged_events_keeps_the_chain_verifiable(logged):
    rows = list(events.iter_events(logged.db))
    conn = logged.db.conn
    conn.execute("INSERT INTO sync_acks VALUES (1, 3, '2026-11-29T03:00:00.000Z')")
    with pytest.raises(sqlite3.IntegrityError, match="only acknowledged"):
        conn.execute("DELETE FROM events WHERE seq = 4")
    conn.execute("BEGIN")
    conn.execute("DELETE FROM events WHERE seq <= 3")
    conn.execute("INSERT INTO chain_anchor VALUES (1, 3, ?)", [rows[2]["hash"]])
    conn.execute("COMMIT")
    report = events.verify_log(logged.db)
    assert (report.ok, report.checked) == (True, 2)
    logged.record("manual_open", NOW + timedelta(hours=1))
    assert events.verify_log(logged.db).ok
    assert events.chain_head(logged.db)[0] == 6


def test_pruning_without_anchor_is_detected(logged):
    conn = logged.db.conn
    conn.execute("INSERT INTO sync_acks VALUES (1, 2, '2026-11-29T03:00:00.000Z')")
    conn.execute("DELETE FROM events WHERE seq <= 2")
    assert problems(logged) == ["seq 3: expected seq 1 (events missing)",
                                "seq 3: prev_hash does not match the previous event"]


def test_integrity_check_is_part_of_verification(logged):
    assert events.verify_log(logged.db).ok
    from kiosk.store.db import integrity_ok
    assert integrity_ok(logged.db) == (True, "ok")


def test_seq_is_monotonic_and_ids_unique_across_reopening(community, clock):
    for _ in range(3):
        with Gate.open(community.gate_home, clock=clock) as gate:
            for _ in range(4):
                gate.record("manual_open", clock.advance(seconds=1), data={"text": "巡逻"})
    with Gate.open(community.gate_home, clock=clock) as gate:
        rows = list(events.iter_events(gate.db))
    assert [r["seq"] for r in rows] == list(range(1, 13))
    assert len({r["id"] for r in rows}) == 12
    assert json.loads(rows[0]["data"]) == {"text": "巡逻"}


def test_nonce_makes_append_idempotent(gate):
    stamp = Stamp.of(NOW, "Asia/Shanghai", True)
    first = events.append(gate.db, gate_id="g", site_id="s", kind="scan", stamp=stamp, nonce="n-1")
    again = events.append(gate.db, gate_id="g", site_id="s", kind="manual", stamp=stamp, nonce="n-1")
    assert again["id"] == first["id"] and gate.db["events"].count == 1


def test_unknown_event_fields_are_refused(gate):
    with pytest.raises(ValueError, match="unknown event fields"):
        events.append(gate.db, gate_id="g", site_id="s", kind="scan", stamp=Stamp.of(NOW, "UTC", True), colour="red")
    assert gate.db["events"].count == 0


@pytest.mark.parametrize("kind", ["note", "vehicle", "Scan", ""])
def test_unknown_event_kinds_are_refused(gate, kind):
    with pytest.raises(ValueError, match=f"unknown event kind '{kind}'; known kinds: scan, manual, override, "):
        gate.record(kind, NOW)
    assert gate.db["events"].count == 0


@pytest.mark.parametrize("synchronised", [True, False])
def test_stamps_carry_utc_local_zone_and_sync_flag(community, synchronised):
    clock = FixedClock(NOW.replace(microsecond=123456), synchronised=synchronised)
    with Gate.open(community.gate_home, clock=clock) as gate:
        event = gate.record("manual_open", clock.now())
        stored = next(iter(gate.db.query("SELECT * FROM events WHERE seq = 1")))
    assert (stored["ts_utc"], stored["ts_local"], stored["tz"], stored["clock_synced"]) == (
        "2026-11-29T02:00:00.123Z", "2026-11-29T10:00:00.123+08:00", "Asia/Shanghai", int(synchronised))
    assert stored == event


def test_stamp_refuses_naive_times():
    with pytest.raises(ValueError, match="timezone-aware"):
        Stamp.of(NOW.replace(tzinfo=None), "Asia/Shanghai", True)


def test_every_event_of_a_clock_gone_back_is_flagged_until_it_catches_up(gate):
    def note_at(moment):
        row = events.append(gate.db, gate_id="g", site_id="jinan", kind="manual_open",
                            stamp=Stamp.of(moment, "Asia/Shanghai", False))
        return json.loads(row["data"]).get("clock_behind_previous")

    latest = Stamp.of(NOW, "Asia/Shanghai", True).utc
    assert note_at(NOW) is None
    assert note_at(NOW - timedelta(days=1)) == latest
    assert note_at(NOW - timedelta(days=1) + timedelta(minutes=5)) == latest  # still behind
    assert note_at(NOW + timedelta(seconds=1)) is None  # caught up
    assert events.verify_log(gate.db).ok


def test_event_ids_are_time_ordered_uuids():
    ids = [events.time_ordered_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert {uuid.UUID(i).version for i in ids} == {7}
    first, later = ids[0], ids[-1]
    assert first[:8] <= later[:8]  # the leading 48 bits are the time in milliseconds
