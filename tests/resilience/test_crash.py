"""Crash: the scan process SIGKILLed at random moments during 2,000 scripted scans.

The driver (tests/resilience/crash_driver.py) runs two real Lanes on a real gate
database and writes ``signalled <scan>`` durably just before each decision is
shown. After every kill it is restarted and resumes where the database says.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess

import pytest

from kiosk.core.clock import utc_text
from kiosk.gate.service import Gate
from kiosk.sim.demo import GUARD, create_demo
from kiosk.store.events import verify_log
from tests.resilience.conftest import spawn
from tests.resilience.crash_driver import T0, scan_plan, scan_time
from tests.waiting import wait_for

SCANS = 2000
KILLS = 30
SEED = 20261129


def _lines(log) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _run_once(home, log, rng: random.Random, kill: bool) -> str:
    """Start the driver; SIGKILL it at a random moment (or let it finish). Its last line.

    A kill while scanning comes after the run showed at least one decision (its first
    is the replay of the newest recorded scan), however slowly the busy machine runs it.
    """
    shown_before = _lines(log)
    process = spawn("-m", "tests.resilience.crash_driver", str(home), str(log), str(SCANS),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if kill:
            if rng.random() < 0.15:  # while starting up: imports, opening the database
                delay = rng.uniform(0.0, 0.8)
            else:
                process.stdout.readline()  # "resuming at N": scanning from now on
                wait_for(lambda: _lines(log) > shown_before or process.poll() is not None)
                delay = rng.uniform(0.0, 0.35)
            try:
                process.wait(delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"driver failed ({process.returncode}): {err}")
    return out


def _signalled(log) -> dict[int, list[str]]:
    shown: dict[int, list[str]] = {}
    for line in log.read_text().splitlines():
        _, index, name = line.split()
        shown.setdefault(int(index), []).append(name)
    return shown


@pytest.mark.slow
def test_sigkill_during_scans_loses_and_duplicates_nothing(tmp_path):
    community = create_demo(tmp_path / "demo", T0)
    with Gate.open(community.gate_home) as gate:
        gate.sign_on(GUARD[0], GUARD[2], "in", T0)
    log = tmp_path / "signalled.log"
    rng = random.Random(SEED)
    killed = 0
    for _ in range(KILLS):
        out = _run_once(community.gate_home, log, rng, kill=True)
        killed += "done" not in out
    for _ in range(3):  # the rest of the script, without kills
        if "done" in _run_once(community.gate_home, log, rng, kill=False):
            break
    assert killed >= KILLS * 2 // 3  # most runs really were killed mid-way

    with sqlite3.connect(community.gate_home / "gate.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY seq")]
        assert tuple(conn.execute("PRAGMA integrity_check").fetchone()) == ("ok",)
    scans = [r for r in rows if r["kind"] == "scan"]
    by_time: dict[str, list[dict]] = {}
    for row in scans:
        by_time.setdefault(row["ts_utc"], []).append(row)
    shown = _signalled(log)
    assert shown and max(shown) == SCANS - 1
    for index in shown:  # every decision shown has exactly one event
        assert len(by_time.get(utc_text(scan_time(index)), [])) == 1, index
    # and since every run resumed, every scripted scan has exactly one event, on its lane
    assert len(scans) == SCANS
    assert [(r["ts_utc"], r["lane"]) for r in scans] == \
        [(utc_text(scan_time(i)), scan_plan(i)[0]) for i in range(SCANS)]
    sources = [json.loads(r["data"])["source"] for r in scans]
    assert sources.count("camera") == len(range(0, SCANS, 25))
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["nonce"] for r in scans}) == SCANS and all(r["nonce"] for r in scans)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    # a resumed run replays the newest recorded scan: the same nonce, "repeat", no new event
    assert any("repeat" in names for names in shown.values())
    assert all(names.count("allow") <= 1 for names in shown.values())  # the gate opened once at most
    with Gate.open(community.gate_home) as gate:
        report = verify_log(gate.db)
    assert report.ok, report.problems
    assert report.checked == len(rows) == SCANS + 1
