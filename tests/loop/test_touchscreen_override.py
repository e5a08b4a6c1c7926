"""Issue 10, case 7: an override made on the touchscreen opens the lane's gate.

A real ``kiosk serve`` (its own process, owning no GPIO) and a lane running in this process on
mock pins, both on the same gate folder. The guard signs on and overrides over HTTP; the lane
finds the command in ``lane_commands`` and pulses the relay, after the override is durable.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from datetime import timedelta

import requests

from kiosk.core.rules import Scan
from kiosk.gate.lane import COMMAND_POLL_S
from kiosk.sim.demo import GUARD
from kiosk.store import lane_state
from tests.loop.conftest import PINS, highs, make_lane, rig_signals
from tests.servers import KioskServer
from tests.waiting import poll

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
NONCE = re.compile(r'name="nonce" value="([0-9a-f]{32})"')


def submit(session: requests.Session, url: str, data: dict) -> requests.Response:
    """POST a form with the hidden fields of the page that shows it, as a browser would."""
    html = session.get(url, timeout=10).text
    hidden = {"csrf_token": TOKEN.search(html).group(1), "nonce": NONCE.search(html).group(1)}
    return session.post(url, data={**data, **hidden}, timeout=30, allow_redirects=False)


def override_events(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM events WHERE kind = 'override'").fetchone()[0]


def commands(db_path) -> list[tuple]:
    """The lane commands: the lane marks one done (after pulsing the relay) with the time it opened."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT lane, kind, result, done_utc IS NOT NULL FROM lane_commands").fetchall()


def test_case7_a_touchscreen_override_opens_the_relay_after_it_is_recorded(community, tmp_path):
    db_path = community.gate_home / "gate.db"
    signals, factory = rig_signals(db_path)  # the relay pin notes the event count when it goes high
    lane = make_lane(community, signals=signals)
    refused = lane.gate.check(Scan("in", token=community.tokens["revoked"], temperature=36.5, lane="in")).event
    relay = factory.pin(PINS["relay"])
    stop = threading.Event()
    loop = threading.Thread(target=lane.run, args=(stop,), name="lane-in")
    loop.start()
    try:
        with KioskServer(community.gate_home, tmp_path / "serve.log") as server, requests.Session() as session:
            sign_on = submit(session, server.url + "/sign-on", {"guard_id": GUARD[0], "pin": GUARD[2], "lane": "in"})
            assert sign_on.status_code == 302
            assert relay.state is False and override_events(db_path) == 0
            done = submit(session, f"{server.url}/actions/override/{refused['id']}", {"reason": "物业确认本人"})
            posted = time.monotonic()
            assert done.status_code == 302 and "/actions/opened/" in done.headers["Location"]
            # the pulse itself takes no time here (virtual sleep): watch the pin's record of going high
            assert poll(lambda: relay.__dict__.get("highs"), timeout=30, interval=0.005), "the relay never opened"
            latency = time.monotonic() - posted
            # Before the pin went high, the override was in the database (the pin counted the events).
            assert relay.highs == [2], f"events when the relay went high: {relay.highs}"
            assert latency < 5, f"relay opened {latency:.3f} s after the override was answered"
            print(f"touchscreen override -> relay high: {latency * 1000:.0f} ms")
            assert poll(lambda: commands(db_path) == [("in", "open", "opened", 1)], timeout=30), commands(db_path)
            page = session.get(requests.compat.urljoin(server.url, done.headers["Location"]), timeout=10).text
            assert "闸机已于" in page and "开启" in page and 'http-equiv="refresh"' not in page
    finally:
        stop.set()
        loop.join(30)
        lane.close()
        signals.close()


def test_a_stale_command_opens_nothing(community):
    """An override from before the lane process came back must not open the gate later."""
    signals, factory = rig_signals()
    lane = make_lane(community, signals=signals)
    lane_state.add_open_command(lane.gate.db, "in", "an-override", lane.gate.now() - timedelta(minutes=1))
    assert lane.poll_commands() == 1
    signals.wait(5)
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT result FROM lane_commands").fetchall() == [("expired",)]
    assert highs(factory, PINS["relay"]) == 0
    lane.close()
    signals.close()


def test_a_command_the_database_cannot_mark_done_opens_nothing_then_or_later(community):
    """A full or failing disk refuses the "opened" mark: the gate must not open at every poll."""
    signals, factory = rig_signals()
    lane = make_lane(community, signals=signals)
    lane_state.add_open_command(lane.gate.db, "in", "an-override", lane.gate.now())
    lane.gate.db.conn.execute("CREATE TRIGGER refuse_marks BEFORE UPDATE ON lane_commands "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    for _ in range(3):
        time.sleep(COMMAND_POLL_S)  # each poll is due (a sleep lasts at least this long)
        assert lane.poll_commands() == 0
    signals.wait(5)
    assert highs(factory, PINS["relay"]) == 0
    lane.close()
    signals.close()


def test_a_face_mismatch_tapped_on_the_screen_sounds_the_refusal_at_its_lane(community):
    """The screen's page owns no GPIO: the tap records the refusal and, in its transaction, an
    alarm command; the lane plays the refusal (red, two beeps) and opens nothing. A double tap
    records one refusal and one alarm."""
    signals, factory = rig_signals()
    lane = make_lane(community, signals=signals)
    checked = lane.gate.check(Scan("in", token=community.tokens["resident"], temperature=36.5, lane="in")).event
    refusal = lane.gate.report_face_mismatch(checked["id"], GUARD[0], lane.gate.now())
    lane.gate.report_face_mismatch(checked["id"], GUARD[0], lane.gate.now())
    assert lane.poll_commands() == 1
    signals.wait(5)
    assert (highs(factory, PINS["red"]), highs(factory, PINS["buzzer"]), highs(factory, PINS["relay"])) == (1, 2, 0)
    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        assert conn.execute("SELECT lane, kind, event_id, result FROM lane_commands").fetchall() == [
            ("in", "alarm", refusal["id"], "sounded")]
    lane.close()
    signals.close()


def test_a_gate_database_from_before_alarms_keeps_its_pending_commands(tmp_path):
    """Gate migration 11 makes lane_commands again (a CHECK cannot be changed in place): a command
    left pending by the older version is kept, and alarms are taken from then on."""
    import sqlite_utils

    from kiosk.core.clock import parse_utc
    from kiosk.store.db import MIGRATIONS, open_db, statements

    path = tmp_path / "gate.db"
    older = sqlite_utils.Database(path)
    older.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for number, script in enumerate(MIGRATIONS["gate"][:10], start=1):
        for statement in statements(script):
            older.execute(statement)
        older.execute("INSERT INTO schema_migrations VALUES (?, 'then')", [number])
    older.execute("INSERT INTO lane_commands (lane, kind, event_id, created_utc) VALUES ('in', 'open', 'e1', 't')")
    older.conn.commit()
    older.conn.close()
    db = open_db(path, "gate")
    lane_state.add_alarm_command(db, "in", "e2", parse_utc("2026-11-29T02:00:00Z"))
    assert db.execute("SELECT lane, kind, event_id, done_utc FROM lane_commands ORDER BY id").fetchall() == [
        ("in", "open", "e1", None), ("in", "alarm", "e2", None)]
    assert [row[0] for row in db.execute("SELECT id FROM lane_commands WHERE lane = 'in' AND done_utc IS NULL")] == [1, 2]
    db.conn.close()
