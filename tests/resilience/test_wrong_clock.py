"""Wrong clock: the gate's clock jumps back a day and forward again.

The gate runs with a clock that is the real time plus a skew we set (the office
measures offsets against its own real clock); a real gate web server (waitress,
loopback) answers the office's real pulls.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import waitress

from kiosk.core.clock import FixedClock, parse_utc
from kiosk.core.shifts import shift_at
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.sim.demo import GUARD, create_demo
from kiosk.store import tokens
from web import create_app

DAY = timedelta(days=1)
# each group its own passes: the same pass again within 10 s would be a duplicate scan
GROUPS = (("resident", "household_member", "monitored", "vehicle"),
          ("second_resident", "isolated", "quarantined", "revoked"))
TOLERANCE_S = 60.0  # over loopback the offset is exact to half a request: far better, even on a busy machine


class SkewedClock(FixedClock):
    """The gate's clock: the real time plus ``skew`` (what a Pi without RTC may show)."""

    def __init__(self) -> None:
        super().__init__(datetime.now(timezone.utc))
        self.skew = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.skew


@pytest.fixture
def gate_server(tmp_path):
    """The gate's web application on a loopback port, with the skewed clock."""
    clock = SkewedClock()
    community = create_demo(tmp_path / "demo", clock.now())
    app = create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": clock})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield community, clock, f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)


def test_clock_jump_back_and_forward(gate_server):
    community, clock, url = gate_server
    with Gate.open(community.gate_home, clock=clock) as gate:
        gate.sign_on(GUARD[0], GUARD[2], "out", clock.now())
        secret = tokens.create_token(gate.db, "office", "office", clock.now())[1]
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
    lane = Lane("out", "out", Gate.open(community.gate_home, clock=clock))
    true_times: dict[str, datetime] = {}  # event id -> when it really happened (office clock)

    def record_and_pull(roles: tuple[str, ...]) -> None:
        for role in roles:
            result = lane.handle(community.tokens[role], "scanner")
            true_times[result.event["id"]] = datetime.now(timezone.utc)
        with Office.open(community.office_home) as office:
            pulled = pull.pull_gate(office, "jinan-gate", lambda: datetime.now(timezone.utc))
        first = len(true_times) == len(roles)  # the first pull also brings the sign-on
        assert (pulled.problem, pulled.new_events) == (None, len(roles) + first)

    record_and_pull(GROUPS[0])  # A: right clock
    clock.skew, clock.is_synchronised = -DAY, False  # power cut, no network: a day behind
    record_and_pull(GROUPS[0])  # B (a day "earlier": no duplicate of A)
    clock.skew, clock.is_synchronised = timedelta(0), True  # NTP is back
    record_and_pull(GROUPS[1])  # C
    lane.close()

    rows = {row["id"]: row for row in lane_rows(community.gate_home)}
    scans = [row for row in rows.values() if row["kind"] == "scan"]
    a, b, c = scans[:4], scans[4:8], scans[8:]
    # sequence order is recording order, whatever the clock said
    assert [row["seq"] for row in rows.values()] == list(range(1, len(rows) + 1))
    assert [row["id"] for row in scans] == list(true_times)
    # the jump is flagged where it happened, every event of the bad clock says so
    assert [json.loads(r["data"])["clock_behind_previous"] for r in b] == [a[-1]["ts_utc"]] * 4
    assert [r["clock_synced"] for r in scans] == [1] * 4 + [0] * 4 + [1] * 4
    assert all("clock_behind_previous" not in json.loads(r["data"]) for r in a + c)
    # shifts follow the gate's own clock: a day behind is the same shift of the day before
    with Gate.open(community.gate_home, clock=clock) as gate:
        defs, tz = gate.shift_defs, gate.tz
    for row in scans:
        assert row["shift_id"] == shift_at(parse_utc(row["ts_utc"]), defs, tz).id
        assert row["guard_id"] == GUARD[0]  # who was on duty does not depend on the clock
    for row in b:
        real = shift_at(true_times[row["id"]], defs, tz)
        assert row["shift_id"] == f"{(real.date - DAY).isoformat()}/{real.shift.key}"

    # the office stored the measured offset on each event and places it correctly
    with Office.open(community.office_home) as office:
        stored = {r["id"]: r for r in office.db.query(
            "SELECT * FROM gate_events WHERE gate = 'jinan-gate' ORDER BY seq")}
        history = [r[0] for r in office.db.conn.execute(
            "SELECT offset_s FROM clock_offsets WHERE gate = 'jinan-gate' ORDER BY rowid")]
    assert list(stored) == list(rows)
    assert [round(offset / 86400) for offset in history] == [0, -1, 0]
    for group, days in ((a, 0), (b, -1), (c, 0)):
        for row in group:
            offset = stored[row["id"]]["clock_offset_s"]
            assert abs(offset - days * 86400) < TOLERANCE_S
            placed = parse_utc(row["ts_utc"]) - timedelta(seconds=offset)
            assert abs((placed - true_times[row["id"]]).total_seconds()) < TOLERANCE_S
    placed_order = sorted(scans, key=lambda r: parse_utc(r["ts_utc"])
                          - timedelta(seconds=stored[r["id"]]["clock_offset_s"]))
    assert [r["id"] for r in placed_order] == [r["id"] for r in scans]


def lane_rows(gate_home) -> list[dict]:
    with Gate.open(gate_home) as gate:
        return list(gate.db.query("SELECT * FROM events ORDER BY seq"))
