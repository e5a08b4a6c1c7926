"""Failing storage: a full disk on every recording path, a damaged database file.

Disk full: a small tmpfs (root; skipped otherwise, as test_full_disk). Corruption: the
gate's database file is edited with every connection closed (checkpointed first), as a
failing SD card leaves it, then opened again by the code under test.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import waitress
from click.testing import CliRunner

from hardware.thermometer import FakeThermometer
from kiosk.cli.gate import NOT_RECORDED_EXIT
from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from kiosk.core.i18n import t
from kiosk.core.rules import Scan
from kiosk.gate import doctor, usb_export
from kiosk.gate.lane import Lane
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.sim.demo import GUARD, create_demo
from kiosk.store import tokens
from kiosk.store.config import load_config
from tests.conftest import NOW
from tests.loop.conftest import PINS, highs, rig_signals
from tests.resilience.conftest import needs_root
from tests.resilience.test_full_disk import fill, small_disk  # noqa: F401 (a fixture)
from tests.web.conftest import post, sign_on
from web import create_app

PAGE = 4096


def record_some(home, clock: FixedClock, tokens: dict, count: int = 6) -> None:
    with Gate.open(home, clock=clock) as gate:
        gate.sign_on(GUARD[0], GUARD[2], "in", clock.now())
        for role in ("resident", "household_member", "monitored", "second_resident")[:count]:
            gate.check(Scan(direction="in", token=tokens[role], temperature=36.5, lane="in"), clock.advance(seconds=20))
        gate.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def root_page(db_path, name: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [name]).fetchone()[0]
    finally:
        conn.close()


def scribble(db_path, page: int) -> None:
    """Overwrite one database page with garbage (what a failing card returns for it)."""
    with open(db_path, "r+b") as file:
        file.seek((page - 1) * PAGE)
        file.write(bytes((i * 37 + 11) % 256 for i in range(PAGE)))


def test_lane_on_a_corrupt_events_table_shows_the_decision_and_the_not_recorded_alarm(community):
    clock = FixedClock(NOW)
    record_some(community.gate_home, clock, community.tokens)
    db_path = community.gate_home / "gate.db"
    scribble(db_path, root_page(db_path, "events"))

    signals, factory = rig_signals()
    lane = Lane("in", "in", Gate(load_config(community.gate_home), clock=clock), thermometer=FakeThermometer(36.5),
                signals=signals, require_temperature=True, sleep=lambda s: None)
    try:
        results = [lane.handle(community.tokens["resident"], "scanner")]
        signals.wait(5)
        clock.advance(seconds=30)
        results.append(lane.handle(community.tokens["household_member"], "scanner"))
        signals.wait(5)
    finally:
        lane.close()
        signals.close()
    for result in results:
        assert (result.recorded, result.signal, result.relay, result.event) == (False, "not_recorded", False, None)
        assert result.error == "event not recorded: database disk image is malformed"
        assert result.outcome == "refer"  # the records cannot be read: a guard checks by hand
        assert result.decision.message_zh == t("resilience.decision.unreadable", "zh")
    assert highs(factory, PINS["relay"]) == 0
    assert highs(factory, PINS["buzzer"]) == 12  # six fast beeps, twice
    assert lane.status.alerts["not_recorded"].startswith("未记录！")  # stays until an event is recorded


def test_doctor_and_verify_log_report_a_damaged_index_in_plain_words(community):
    record_some(community.gate_home, FixedClock(NOW), community.tokens)
    db_path = community.gate_home / "gate.db"
    page = root_page(db_path, "events_exits")
    scribble(db_path, page)

    findings = {f.key: f for f in doctor.diagnose(community.gate_home, camera_timeout=0.1)}
    assert findings["db_damaged"].level == "error"
    assert f"Page {page}: btreeInitPage() returns error code 11" in findings["db_damaged"].params["detail"]

    result = CliRunner().invoke(cli, ["--home", str(community.gate_home), "--lang", "en", "verify-log"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "database integrity check failed" in result.output
    assert "Traceback" not in result.output


def test_doctor_finds_a_row_altered_on_the_card(community):
    record_some(community.gate_home, FixedClock(NOW), community.tokens)
    db_path = community.gate_home / "gate.db"
    content = db_path.read_bytes()
    resident = community.pass_ids["resident"].encode()
    at = content.index(b'"allow"') if b'"allow"' in content else content.index(b"allow")
    altered = content[:at] + b"deny\x00" + content[at + 5:]  # same length: the page stays well-formed
    assert len(altered) == len(content) and resident in content
    db_path.write_bytes(altered)

    findings = {f.key: f for f in doctor.diagnose(community.gate_home, camera_timeout=0.1)}
    assert "db_damaged" not in findings  # SQLite sees nothing wrong...
    assert findings["chain_bad"].level == "error"  # ...the chain does
    assert "content does not match its hash (altered)" in findings["chain_bad"].params["first"]
    assert findings["chain_bad"].line("en").startswith("[ERROR] Event log altered or incomplete (1 problems)")


def test_verify_log_and_doctor_on_a_destroyed_events_table_report_without_traceback(community):
    record_some(community.gate_home, FixedClock(NOW), community.tokens)
    db_path = community.gate_home / "gate.db"
    scribble(db_path, root_page(db_path, "events"))
    result = CliRunner().invoke(cli, ["--home", str(community.gate_home), "--lang", "en", "verify-log"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "the event log cannot be read: database disk image is malformed" in result.output
    damaged = {f.key: f for f in doctor.diagnose(community.gate_home, camera_timeout=0.1)}["db_damaged"]
    assert damaged.line("en").startswith("[ERROR] The database is damaged: ")  # a damaged row page: doctor says so


@needs_root
def test_full_disk_web_check_and_cli_check_show_the_decision_as_not_recorded(small_disk):  # noqa: F811
    community = create_demo(small_disk / "demo", NOW)
    clock = FixedClock(NOW)
    app = create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": clock, "TESTING": True})
    client = app.test_client()
    assert sign_on(client).status_code == 302
    lane_process = Gate.open(community.gate_home, clock=clock)  # as `kiosk run` does, it keeps the WAL open
    fill(small_disk / "filler")
    statuses, pages = [], []
    for i in range(60):  # the WAL still has some room at first
        clock.advance(seconds=20)
        response = post(client, "/actions/check", {"pass_id": community.pass_ids["resident" if i % 2 else
                                                                                  "second_resident"],
                                                   "lane": "in", "temperature": "36.5"})
        statuses.append(response.status_code)
        pages.append(response.get_data(as_text=True))
        if response.status_code == 503:
            break
    assert statuses[-1] == 503 and set(statuses[:-1]) <= {200}
    assert t("resilience.web.not_recorded", "zh") in pages[-1]
    assert "database or disk is full" in pages[-1]
    assert t("outcome.allow", "zh") in pages[-1]

    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(community.gate_home), "--lang", "en", "check",
                                 community.tokens["monitored"], "--direction", "in", "--temp", "36.5", "--record"])
    assert result.exit_code == NOT_RECORDED_EXIT, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output == ("NOT RECORDED! The decision was not saved: event not recorded: database or disk is full\n"
                             "allow health_monitoring\nAllowed: Person under health monitoring\n")
    lane_process.close()


def serve(home, clock):
    """The gate's application on a loopback port (waitress, in a thread); returns (url, stop)."""
    server = waitress.create_server(create_app({"KIOSK_HOME": str(home), "CLOCK": clock}),
                                    host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop():
        server.close()  # its daemon thread idles on until the session ends: joining it would wait

    return f"http://127.0.0.1:{server.effective_port}", stop


def gate_that_lost_its_wal(community, tmp_path) -> tuple[Path, str, FixedClock]:
    """(a copy of the gate folder whose WAL held seq 1-3, already pulled by the office, and was
    lost with the processes stopped; the office's token; the clock)."""
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        secret = tokens.create_token(gate.db, "office", "office", NOW)[1]
    url, stop = serve(community.gate_home, clock)
    try:
        with Gate.open(community.gate_home, clock=clock) as gate:
            gate.db.conn.execute("PRAGMA wal_autocheckpoint=0")  # the events stay in the WAL...
            for role in ("resident", "household_member", "monitored"):
                gate.check(Scan(direction="in", token=community.tokens[role], temperature=36.5, lane="in"),
                           clock.advance(seconds=20))
            with Office.open(community.office_home) as office:
                pull.add_gate(office, "jinan-gate", url, secret)
                assert pull.pull_gate(office, "jinan-gate", clock.now).ok  # the office holds seq 1-3
            # ...when the power goes: the folder as the card holds it, with the processes stopped
            cut = Path(shutil.copytree(community.gate_home, tmp_path / "cut"))
    finally:
        stop()
    (cut / "gate.db-wal").write_bytes(b"")  # the card lost the WAL
    (cut / "gate.db-shm").unlink()
    return cut, secret, clock


def test_a_truncated_wal_is_found_by_verify_log_doctor_and_the_office(community, tmp_path):
    cut, secret, clock = gate_that_lost_its_wal(community, tmp_path)

    result = CliRunner().invoke(cli, ["--home", str(cut), "--lang", "en", "verify-log"])
    assert result.exit_code == 1
    assert f"events lost: the log ends at seq 0 but had reached seq 3 (its watermark {cut / 'gate.db.head'})" \
        in result.output
    findings = {f.key: f for f in doctor.diagnose(cut, camera_timeout=0.1)}
    assert findings["db_lost_tail"].line("en").startswith(
        "[ERROR] Events were lost: the event log ends at seq 0 but had reached seq 3")

    url, stop = serve(cut, clock)
    try:
        with Office.open(community.office_home) as office:
            pull.add_gate(office, "jinan-gate", url, secret)
            pulled = pull.pull_gate(office, "jinan-gate", clock.now)
    finally:
        stop()
    assert pulled.broken
    assert pulled.problem == ("CHAIN BROKEN: seq after 3: the gate's log ends at seq 0 but the office already "
                              "holds up to seq 3: events were lost on the gate (truncated WAL or an old copy)")


@pytest.fixture
def read_only_card(tmp_path):
    """A tmpfs that can be remounted read-only (a card that gave up), unmounted whatever happens."""
    mount_point = tmp_path / "card"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)


@needs_root
def test_a_read_only_card_still_decides_serves_the_office_and_exports(read_only_card, tmp_path):
    community = create_demo(read_only_card / "demo", NOW)
    clock = FixedClock(NOW)
    record_some(community.gate_home, clock, community.tokens, count=2)
    with Gate.open(community.gate_home, clock=clock) as gate:
        usb_export.export_key(gate)  # made by `kiosk init` on a real gate
        secret = tokens.create_token(gate.db, "office", "office", NOW)[1]
    office_home = shutil.copytree(community.office_home, tmp_path / "office")  # the office is another machine
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_card)], check=True)

    runner, home = CliRunner(), str(community.gate_home)
    checked = runner.invoke(cli, ["--home", home, "--lang", "en", "check", community.tokens["monitored"],
                                  "--direction", "in", "--temp", "36.5", "--record"])
    assert checked.exit_code == NOT_RECORDED_EXIT
    assert checked.output.startswith("NOT RECORDED! The decision was not saved: event not recorded: attempt to "
                                     "write a readonly database\nallow health_monitoring\n")
    verified = runner.invoke(cli, ["--home", home, "--lang", "en", "verify-log"])
    assert (verified.exit_code, verified.output) == (0, "ok: 3 events checked\n")
    exported = runner.invoke(cli, ["--home", home, "--lang", "en", "export", "--out", str(tmp_path / "usb.events")])
    assert exported.exit_code == 0, exported.output
    assert len((tmp_path / "usb.events").read_text().splitlines()) == 3 + 3  # header, 3 events, trailer, signature

    url, stop = serve(community.gate_home, clock)
    try:
        with Office.open(office_home) as office:
            pull.add_gate(office, "jinan-gate", url, secret)
            pulled = pull.pull_gate(office, "jinan-gate", clock.now)
    finally:
        stop()
    # The API's token bookkeeping is best-effort: the office pulls the events off a read-only card.
    assert (pulled.new_events, pulled.problem) == (3, None)
