"""Office pull on bad days: a gate that trickles, two pulls at once, a garbled answer.

Real HTTP over loopback: the gate's own application under waitress (behind a small WSGI
wrapper that garbles its first answer), and a raw socket server that answers a byte at a time.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
import waitress
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.store import tokens
from tests.conftest import NOW
from web import create_app


def set_deadline(community, seconds: float) -> None:
    path = community.office_home / "kiosk.toml"
    path.write_text(path.read_text(encoding="utf-8") + f"\n[sync]\npull_deadline_s = {seconds}\n", encoding="utf-8")


class Trickle:
    """Answers every request with a body that comes one byte every 0.2 s, forever."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                while not self.stopped.wait(0.2):
                    conn.sendall(b" ")
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.server.close()


def test_a_trickling_gate_is_cut_off_at_the_deadline(community):
    set_deadline(community, 2)
    trickle = Trickle()
    outcome = {}
    try:
        with Office.open(community.office_home) as office:
            pull.add_gate(office, "slow-gate", f"http://127.0.0.1:{trickle.port}", "kt_whatever")

        def run():
            with Office.open(community.office_home) as office:
                outcome["result"] = pull.pull_gate(office, "slow-gate", lambda: datetime.now(timezone.utc))

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(120)  # generous: without a deadline it would never end
        assert not worker.is_alive(), "the pull was not cut off"
    finally:
        trickle.close()
    result = outcome["result"]
    assert result.problem == ("[deadline] the gate sent no complete batch within 2 s (a slow or stuck link); cut off, "
                              "nothing half stored, the next pull goes on from here")
    assert not result.broken


def test_a_second_pull_waits_for_the_first_then_gives_way_plainly(community):
    set_deadline(community, 1)
    with Office.open(community.office_home) as office, pull.pull_lock(office, wait_s=0):
        result = CliRunner().invoke(cli, ["--home", str(community.office_home), "--lang", "en", "office", "pull"])
    assert result.exit_code == 1
    assert result.output == ("Error: [pull_running] another `kiosk office pull` has been running for more than "
                             "2 s here; this one gives way\n")
    with Office.open(community.office_home) as office:  # released: the next run goes ahead
        with pull.pull_lock(office, wait_s=0):
            pass


class FaultyFeed:
    """The gate's application behind a faulty proxy, once: ``duplicate`` sends the first line of
    the first event feed twice; ``stale`` answers the second event request with the first one's
    body (a cached answer); ``short`` cuts the first event feed in the middle of a line."""

    def __init__(self, app, fault: str = "duplicate") -> None:
        self.app, self.fault, self.garbled, self.first = app, fault, False, None

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if environ["PATH_INFO"] != "/api/v1/events" or self.garbled:
            return body
        data = b"".join(body)
        if self.fault == "stale" and self.first is None:
            self.first = data
            return [data]
        self.garbled = True
        if self.fault == "stale":
            return [self.first]
        if self.fault == "short":
            return [data[:len(data) // 2]]
        return [data.split(b"\n", 1)[0] + b"\n" + data]


@pytest.fixture
def garbling_gate(community, request):
    """(url, office token, the FaultyFeed wrapper); the fault by indirect parametrization."""
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        for role in ("resident", "household_member"):
            gate.check(Scan(direction="in", token=community.tokens[role], temperature=36.5, lane="in"),
                       clock.advance(seconds=30))
        secret = tokens.create_token(gate.db, "office", "office", NOW)[1]
    app = FaultyFeed(create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": clock}),
                     getattr(request, "param", "duplicate"))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", secret, app
    finally:
        server.close()  # its daemon thread idles on until the session ends: joining it would wait


def test_a_duplicated_line_is_fetched_again_not_called_tampering(community, garbling_gate):
    url, secret, app = garbling_gate
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
        result = pull.pull_gate(office, "jinan-gate", lambda: datetime.now(timezone.utc))
        stored = [row[0] for row in office.db.conn.execute("SELECT seq FROM gate_events ORDER BY seq")]
        broken = office.db.conn.execute("SELECT chain_broken FROM gates").fetchone()[0]
    assert app.garbled
    assert (result.problem, result.broken, broken) == (None, False, None)
    assert stored == [1, 2]


@pytest.mark.parametrize("released", [True, False])
def test_a_batch_that_meets_a_busy_office_database_is_fetched_again(community, garbling_gate, released):
    """A USB import holds the office database's write lock as the first batch arrives: the batch
    is fetched again (three tries), then the pull says busy plainly (before: `database is locked`
    crashed it)."""
    url, secret, app = garbling_gate
    app.garbled = True  # a clean link here: only the office database is busy
    holder = sqlite3.connect(community.office_home / "office.db", isolation_level=None)
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
        office.db.conn.execute("PRAGMA busy_timeout = 200")  # each try waits 0.2 s, not the kiosk's 10 s
        begins = []

        def import_running(sql: str) -> None:
            if sql == "BEGIN IMMEDIATE":
                begins.append(sql)
                if len(begins) == 2:  # the first batch (after the health check's transaction)
                    holder.execute("BEGIN IMMEDIATE")
                elif len(begins) == 3 and released:
                    holder.execute("ROLLBACK")

        office.db.conn.set_trace_callback(import_running)
        result = pull.pull_gate(office, "jinan-gate", lambda: datetime.now(timezone.utc))
        office.db.conn.set_trace_callback(None)
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        stored = [row[0] for row in office.db.conn.execute("SELECT seq FROM gate_events ORDER BY seq")]
    holder.close()
    if released:
        assert (result.problem, result.new_events, stored) == (None, 2, [1, 2])
    else:
        assert (result.problem, result.new_events, stored, len(begins)) == (
            "[busy] the office database stayed busy (database is locked); nothing half stored, pull again", 0, [], 4)


@pytest.mark.parametrize("garbling_gate", ["stale"], indirect=True)
def test_a_stale_cached_answer_is_fetched_again_not_called_tampering(community, garbling_gate):
    url, secret, app = garbling_gate
    now = lambda: datetime.now(timezone.utc)  # noqa: E731
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
        first = pull.pull_gate(office, "jinan-gate", now)
        with Gate.open(community.gate_home, clock=FixedClock(NOW)) as gate:
            gate.check(Scan(direction="out", token=community.tokens["resident"], lane="out"), NOW + timedelta(hours=1))
        second = pull.pull_gate(office, "jinan-gate", now)  # answered with the first pull's feed, then afresh
        stored = [row[0] for row in office.db.conn.execute("SELECT seq FROM gate_events ORDER BY seq")]
    assert app.garbled
    assert (first.new_events, second.problem, second.broken, second.new_events, stored) == (2, None, False, 1,
                                                                                          [1, 2, 3])


@pytest.mark.parametrize("garbling_gate", ["short"], indirect=True)
def test_a_short_read_is_not_called_tampering_and_the_next_pull_completes(community, garbling_gate):
    url, secret, app = garbling_gate
    now = lambda: datetime.now(timezone.utc)  # noqa: E731
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
        cut, whole = (pull.pull_gate(office, "jinan-gate", now) for _ in range(2))
        stored = [row[0] for row in office.db.conn.execute("SELECT seq FROM gate_events ORDER BY seq")]
    assert (cut.problem, cut.broken) == ("[truncated] the gate's answer ended early; the batch will be fetched "
                                         "again", False)
    assert (whole.problem, whole.broken, stored) == (None, False, [1, 2])


def test_waiting_for_the_offices_own_writer_is_not_counted_against_the_gate(community, garbling_gate):
    """Other gates' batches hold the office's writer past this gate's deadline while it waits to
    write: the wait is the office's, not the gate's (before: cut off as "[deadline]" at a busy
    district office though the gate answered at once)."""
    url, secret, app = garbling_gate
    app.garbled = True  # a clean link: only the office is slow
    set_deadline(community, 4)  # ample for each exchange with the gate, even on a busy machine
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", url, secret)
        done = []
        with pull._WRITER:  # as another gate's batch being written would
            worker = threading.Thread(target=lambda: done.append(
                pull.pull_gate(office, "jinan-gate", lambda: datetime.now(timezone.utc))))
            worker.start()
            worker.join(8.5)  # more than twice the deadline, the pull waiting for the writer all along
            assert worker.is_alive() and done == []
        worker.join(60)
        stored = [row[0] for row in office.store.conn.execute("SELECT seq FROM gate_events ORDER BY seq")]
    assert (done[0].problem, done[0].new_events, stored) == (None, 2, [1, 2])
