"""A slow gate clock: a pass that starts within ``[rules] clock_tolerance_s`` is accepted and flagged.

Found at the command line (issue 10, case 8): a gate whose clock was two minutes slow refused a
pass issued a minute ago with ``not_yet_valid``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk.core import passes
from kiosk.core.clock import utc_text
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.office.service import Office
from kiosk.sim.demo import create_demo
from kiosk.store.config import load_config
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]


def office_token(demo, valid_from: datetime) -> str:
    """A resident's pass signed by ``demo``'s office, starting at ``valid_from``."""
    with Office(load_config(demo.office_home)) as office:
        return passes.mint(office.signing_key(), pass_id="PAHEAD00001", subject_kind="resident",
                           subject_id="R001", site_id="jinan", valid_from=valid_from,
                           valid_until=valid_from + timedelta(days=30))


def scan(token: str) -> Scan:
    return Scan(direction="out", token=token, lane="out")


def test_a_pass_issued_on_a_clock_two_minutes_ahead_is_accepted_and_flagged(gate, mint):
    result = gate.check(scan(mint(valid_from=NOW + timedelta(minutes=2))))
    assert (result.decision.outcome, result.decision.codes) == ("allow", ())
    assert json.loads(result.event["data"])["clock_tolerance_s"] == 120.0


def test_a_pass_already_valid_carries_no_flag(gate, mint):
    result = gate.check(scan(mint(valid_from=NOW - timedelta(seconds=1))))
    assert result.decision.outcome == "allow"
    assert "clock_tolerance_s" not in json.loads(result.event["data"])


@pytest.mark.parametrize("early_s, expected", [(600, ("allow", ())), (601, ("deny", ("not_yet_valid",)))])
def test_the_tolerance_boundary(gate, mint, early_s, expected):
    result = gate.check(scan(mint(valid_from=NOW + timedelta(seconds=early_s))))
    assert (result.decision.outcome, result.decision.codes) == expected


def test_a_typed_pass_id_gets_the_same_tolerance(gate, community, office, republish):
    office.db.conn.execute("UPDATE passes SET valid_from = ? WHERE id = ?",
                           [utc_text(NOW + timedelta(minutes=3)), community.pass_ids["resident"]])
    republish()
    typed = gate.check(Scan(direction="out", pass_id=community.pass_ids["resident"], source="manual", lane="out"))
    assert (typed.decision.outcome, json.loads(typed.event["data"])["clock_tolerance_s"]) == ("allow", 180.0)


def test_the_tolerance_is_configurable(tmp_path, clock):
    demo = create_demo(tmp_path / "strict", NOW, {"rules": {"clock_tolerance_s": 0}})
    token = office_token(demo, NOW + timedelta(seconds=1))
    with Gate.open(demo.gate_home, clock=clock) as strict:
        result = strict.check(scan(token))
    assert (result.decision.outcome, result.decision.codes) == ("deny", ("not_yet_valid",))


def test_kiosk_check_on_a_slow_gate_clock_accepts_a_pass_issued_a_minute_ahead(tmp_path):
    """The command line with the real clock: the office's clock runs 90 s ahead of the gate's."""
    demo = create_demo(tmp_path / "demo", datetime.now(timezone.utc))
    token = office_token(demo, datetime.now(timezone.utc) + timedelta(seconds=90))
    done = subprocess.run([sys.executable, "-m", "kiosk", "--home", str(demo.gate_home), "check", token,
                           "--direction", "out", "--record", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    answer = json.loads(done.stdout)
    assert (done.returncode, answer["outcome"], answer["codes"]) == (0, "allow", []), done.stderr
    with closing(sqlite3.connect(demo.gate_home / "gate.db")) as conn:
        data = json.loads(conn.execute("SELECT data FROM events ORDER BY seq DESC LIMIT 1").fetchone()[0])
    assert 0 < data["clock_tolerance_s"] <= 90
