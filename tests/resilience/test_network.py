"""Network: the office cannot reach the gate during a long run of scans, then can again.

The gate serves with the real ``kiosk serve`` (waitress) process; scans are played
by the crash driver's real Lanes; the office pulls with the real ``kiosk office pull``.
"""

from __future__ import annotations

import subprocess

import pytest

from kiosk.gate.service import Gate
from kiosk.office.pull import add_gate
from kiosk.office.service import Office
from kiosk.sim.demo import GUARD, create_demo
from kiosk.store import tokens
from tests.resilience.conftest import spawn
from tests.resilience.crash_driver import T0
from tests.servers import KioskServer

SCANS = 1200


def pull(office_home) -> subprocess.CompletedProcess:
    process = spawn("-m", "kiosk", "--home", str(office_home), "office", "pull",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def rows(db, table: str, where: str = "") -> list[tuple]:
    return db.conn.execute(f"SELECT seq, id, hash FROM {table} {where} ORDER BY seq").fetchall()


@pytest.mark.slow
def test_office_unreachable_for_a_long_run_then_one_pull_catches_up(tmp_path):
    community = create_demo(tmp_path / "demo", T0)
    with Gate.open(community.gate_home) as gate:
        gate.sign_on(GUARD[0], GUARD[2], "in", T0)
        secret = tokens.create_token(gate.db, "office", "office", T0)[1]
    server = KioskServer(community.gate_home, tmp_path / "serve.log").start()
    try:
        with Office.open(community.office_home) as office:
            add_gate(office, "jinan-gate", server.url, secret)
        assert pull(community.office_home).returncode == 0
        server.stop()  # the link is down (or the gate's web service is)

        driver = spawn("-m", "tests.resilience.crash_driver", str(community.gate_home),
                       str(tmp_path / "signalled.log"), str(SCANS),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = driver.communicate(timeout=300)
        assert driver.returncode == 0 and out.endswith("done\n"), err
        failed = pull(community.office_home)
        assert failed.returncode == 1 and failed.stdout == ""
        (line,) = failed.stderr.splitlines()  # one clear line
        assert line.startswith("jinan-gate: unreachable or bad answer: ConnectionError")

        server.start()
        caught_up = pull(community.office_home)
        assert (caught_up.returncode, caught_up.stdout, caught_up.stderr) == (0, "", "")
    finally:
        server.stop()
    with Gate.open(community.gate_home) as gate, Office.open(community.office_home) as office:
        gate_rows = rows(gate.db, "events")
        assert len(gate_rows) == SCANS + 1
        assert rows(office.db, "gate_events", "WHERE gate = 'jinan-gate'") == gate_rows
        assert office.db.conn.execute("SELECT last_seq FROM gates").fetchone()[0] == SCANS + 1
        assert gate.db.conn.execute("SELECT max(acked_seq) FROM sync_acks").fetchone()[0] == SCANS + 1
