"""Clock jumps: a gate clock months ahead during a pull, a stretch stamped in the future, a clock behind.

Time comes through the project's clock injection (FixedClock, and test_wrong_clock's SkewedClock:
real time plus a skew); the pull goes to a real waitress server over loopback.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.store import tokens
from tests.conftest import NOW
from tests.resilience.test_wrong_clock import gate_server  # noqa: F401 (a fixture)
from web import create_app

DAY = timedelta(days=1)


def scan(token: str, direction: str) -> Scan:
    return Scan(direction=direction, token=token, temperature=36.5, lane=direction)


def office_pull(community) -> pull.PullResult:
    with Office.open(community.office_home) as office:
        return pull.pull_gate(office, "jinan-gate", lambda: datetime.now(timezone.utc))


def test_a_gate_clock_months_ahead_is_not_acknowledged_and_passback_outlives_pruning(gate_server):  # noqa: F811
    community, clock, url = gate_server
    with Gate.open(community.gate_home, clock=clock) as gate:
        secret = tokens.create_token(gate.db, "office", "office", clock.now())[1]
        assert gate.check(scan(community.tokens["resident"], "in")).decision.outcome == "allow"
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)

    clock.skew = timedelta(days=200)  # a wrong time source: the kernel even calls it synchronised
    pulled = office_pull(community)
    assert (pulled.problem, pulled.new_events) == (None, 1)
    assert pulled.ack_withheld.startswith("not acknowledged: the gate's clock is +17280")
    assert "s off (more than 300 s); it would prune by a wrong date" in pulled.ack_withheld
    with Office.open(community.office_home) as office:
        assert office.db.conn.execute("SELECT ack_withheld FROM gates").fetchone()[0] == pulled.ack_withheld
    with Gate.open(community.gate_home, clock=clock) as gate:
        assert (gate.db["events"].count, gate.db["sync_acks"].count) == (1, 0)  # nothing acknowledged or pruned

    clock.skew = timedelta(0)  # the clock is fixed: the next pull acknowledges, the note is cleared
    pulled = office_pull(community)
    assert (pulled.problem, pulled.ack_withheld) == (None, None)
    with Gate.open(community.gate_home, clock=clock) as gate:
        from kiosk.gate import sync_feed

        assert sync_feed.prune(gate.db, clock.now() + timedelta(days=365), 90) == 1  # even pruned...
        assert gate.db["events"].count == 0
        again = gate.check(scan(community.tokens["resident"], "in"))  # ...the resident is still inside
    assert "passback" in again.decision.codes


def test_an_unsynchronised_gate_is_acknowledged_but_prunes_nothing(community):
    with Gate.open(community.gate_home, clock=FixedClock(NOW)) as gate:
        event = gate.check(scan(community.tokens["resident"], "in")).event
        secret = tokens.create_token(gate.db, "office", "office", NOW)[1]
    later = FixedClock(NOW + timedelta(days=100), synchronised=False)
    client = create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": later, "TESTING": True}).test_client()
    answer = client.post("/api/v1/ack", headers={"Authorization": f"Bearer {secret}"},
                         json={"seq": event["seq"], "hash": event["hash"]})
    assert answer.json == {"acked_seq": 1, "pruned": 0, "prune_refused": "clock_unsynchronised"}
    with Gate.open(community.gate_home, clock=later) as gate:
        assert gate.db["events"].count == 1


def test_exits_stamped_in_the_future_do_not_count_as_recent(community):
    clock = FixedClock(NOW + 20 * DAY)  # 20 days ahead for a while
    with Gate.open(community.gate_home, clock=clock) as gate:
        assert gate.check(scan(community.tokens["resident"], "out")).decision.outcome == "allow"
        for days in (3, 19):  # corrected; the other member goes out, comes back
            clock.current = NOW + days * DAY
            member = gate.check(scan(community.tokens["household_member"], "out"))
            assert (member.decision.outcome, member.decision.codes) == ("allow", ())
            clock.advance(hours=1)
            gate.check(scan(community.tokens["household_member"], "in"))
        clock.advance(minutes=1)  # a real recent exit still counts
        resident = gate.check(scan(community.tokens["resident"], "out"))
    assert (resident.decision.outcome, resident.decision.codes) == ("deny", ("household_quota",))


@pytest.mark.parametrize("behind_by", [timedelta(hours=1), DAY])
def test_a_gate_behind_refers_a_pass_issued_just_before_when_its_clock_is_unsynchronised(community, mint, behind_by):
    token = mint(valid_from=NOW, valid_until=NOW + 30 * DAY)
    behind = FixedClock(NOW - behind_by, synchronised=False)
    with Gate.open(community.gate_home, clock=behind) as gate:
        unsynced = gate.check(scan(token, "in"))
        behind.is_synchronised = True
        behind.advance(minutes=1)
        synced = gate.check(scan(token, "in"))
    assert (unsynced.decision.outcome, unsynced.decision.codes) == ("refer", ("not_yet_valid", "clock_unsynced"))
    assert unsynced.decision.message_en.endswith("Clock not synchronised: check the dates by hand")
    assert (synced.decision.outcome, synced.decision.codes) == ("deny", ("not_yet_valid",))
