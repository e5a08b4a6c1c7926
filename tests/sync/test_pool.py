"""`kiosk office pull` over many gates at once: real gate applications under waitress on loopback.

Six gates with a valid log, one whose log was tampered with, one answered with a wrong token,
a second name for a gate already pulled, and one that takes the connection and never answers.
Every gate's events must end up in the office exactly once, whatever the others do.
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone

import pytest
import waitress
from click.testing import CliRunner

from bench.fleet import GateServers, make_gate
from bench.sync import fill_events
from kiosk.cli.root import cli
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from kiosk.store.config import create_home
from tests.conftest import NOW, STORES
from web import create_app

GOOD = [f"g{n}" for n in range(1, 7)]
EVENTS = 600  # three batches of 200 each: the gates' writes interleave
TAMPERED_SEQ = 250


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fleet")
    gates = {name: make_gate(folder, name, "nanqin", EVENTS, NOW) for name in [*GOOD, "tampered"]}
    with Gate.open(gates["tampered"].home) as gate:
        gate.db.conn.execute("DROP TRIGGER events_no_update")
        gate.db.conn.execute("UPDATE events SET data = '{\"forged\": 1}' WHERE seq = ?", [TAMPERED_SEQ])
    silent = socket.create_server(("127.0.0.1", 0))  # takes the connection (backlog), never answers
    with GateServers(list(gates.values())) as servers:
        yield gates, f"http://127.0.0.1:{silent.getsockname()[1]}", servers
    silent.close()


def new_office(folder, fleet, silent: bool = True, database: str | None = None):
    """An office that pulls the fleet, plus a wrong token, a second name for g1 and (``silent``) a
    dead gate; its store on SQLite, or at the PostgreSQL ``database``."""
    gates, silent_url, _ = fleet
    settings = {"role": "office", "site_id": "nanqin", "sync": {"pull_deadline_s": 6}}
    if database:
        settings["database"] = database
    office = Office(create_home(folder / "office", settings))
    for gate in gates.values():
        pull.add_gate(office, gate.name, gate.url, gate.token)
    pull.add_gate(office, "refused", gates["g6"].url, "kt_not-a-token")
    pull.add_gate(office, "g1-again", gates["g1"].url, gates["g1"].token)
    if silent:
        pull.add_gate(office, "silent", silent_url, "kt_whatever")
    return office


def held(office: Office, gate_id: str) -> list[tuple]:
    return office.store.conn.execute("SELECT seq, id, hash FROM gate_events WHERE gate_id = ? ORDER BY seq",
                                  [gate_id]).fetchall()


def gate_log(gate) -> list[tuple]:
    with Gate.open(gate.home) as opened:
        return opened.db.conn.execute("SELECT seq, id, hash FROM events ORDER BY seq").fetchall()


@pytest.mark.parametrize("store", STORES)
def test_every_gate_is_pulled_exactly_once_whatever_the_others_do(fleet, tmp_path, request, store):
    gates = fleet[0]
    database = request.getfixturevalue("postgres").new_database() if store == "postgresql" else None
    office = new_office(tmp_path, fleet, database=database)
    finished, sizes = [], {name: len(gate_log(gates[name])) for name in GOOD}  # a run on the other store adds 50
    try:
        results = pull.pull_gates(office, [], lambda: datetime.now(timezone.utc), limit=200, workers=3,
                                  finished=finished.append)
        by_gate = {result.gate: result for result in results}
        assert finished == results  # reported one by one as each gate was done
        assert sorted(by_gate) == sorted([*GOOD, "tampered", "refused", "g1-again", "silent"])
        for name in GOOD[1:]:
            assert (by_gate[name].problem, by_gate[name].new_events, by_gate[name].last_seq) == \
                (None, sizes[name], sizes[name])
            assert held(office, name) == gate_log(gates[name])
        # g1 under two names at once: one name claims it, the other is refused; its events are held once
        first, second = sorted([by_gate["g1"], by_gate["g1-again"]], key=lambda result: result.ok, reverse=True)
        assert (first.problem, first.new_events) == (None, sizes["g1"])
        assert second.problem == f"[wrong_gate] gate 'g1' is already pulled as {first.gate!r}"
        assert held(office, "g1") == gate_log(gates["g1"])
        assert (by_gate["tampered"].broken, by_gate["tampered"].new_events) == (True, TAMPERED_SEQ - 1)
        assert by_gate["tampered"].problem == (f"CHAIN BROKEN: seq after {TAMPERED_SEQ - 1}: seq {TAMPERED_SEQ}: "
                                               "content does not match its hash (altered on the gate)")
        assert held(office, "tampered") == gate_log(gates["tampered"])[:TAMPERED_SEQ - 1]
        assert by_gate["refused"].problem.startswith("[unauthorized] the gate refused the token")
        assert by_gate["silent"].problem == ("[deadline] the gate sent no complete batch within 6 s (a slow or "
                                             "stuck link); cut off, nothing half stored, the next pull goes on "
                                             "from here")
        total = office.store.conn.execute("SELECT count(*), count(DISTINCT id) FROM gate_events").fetchone()
        assert total == (sum(sizes.values()) + TAMPERED_SEQ - 1,) * 2

        for name in GOOD[:3]:  # new events at three gates; the next pull takes exactly those
            with Gate.open(gates[name].home) as gate:
                fill_events(gate.db, 50, NOW, gate.gate_id, gate.site_id)
        names = [first.gate, *GOOD[1:]]
        again = pull.pull_gates(office, names, lambda: datetime.now(timezone.utc), workers=8)
        assert sorted((result.gate, result.problem, result.new_events) for result in again) == sorted(
            (name, None, 50 if name in (first.gate, *GOOD[1:3]) else 0) for name in names)
        for name in GOOD:
            assert held(office, name) == gate_log(gates[name])
    finally:
        office.close()


def test_the_command_reports_each_gate_as_it_is_done_in_chinese_and_english(fleet, tmp_path):
    new_office(tmp_path, fleet, silent=False).close()
    home = str(tmp_path / "office")
    runner = CliRunner()
    first = runner.invoke(cli, ["--home", home, "office", "pull", "--workers", "2", "--batch", "250", "-v"])
    assert first.exit_code == 1, first.output
    lines = first.output.splitlines()
    g3 = len(gate_log(fleet[0]["g3"]))  # the test before may have added events
    assert f"g3：新增 {g3} 条记录，已收到 seq {g3}，时钟偏差 " in first.output
    assert f"tampered：新增 {TAMPERED_SEQ - 1} 条记录，已收到 seq {TAMPERED_SEQ - 1}，时钟偏差 " in first.output
    assert f"!!! tampered: CHAIN BROKEN: seq after {TAMPERED_SEQ - 1}: " in first.output
    assert any(line.startswith("refused: [unauthorized] the gate refused the token") for line in lines)
    new = sum(len(gate_log(gate)) for gate in fleet[0].values() if gate.name != "tampered") + TAMPERED_SEQ - 1
    assert lines[-1].startswith(f"共 9 个闸机，3 个失败，新增 {new} 条记录，用时 ") and lines[-1].endswith(" 秒")
    second = runner.invoke(cli, ["--home", home, "--lang", "en", "office", "pull", "-v"])
    assert second.exit_code == 1
    assert f"g3: 0 new events, holding up to seq {g3}, clock offset " in second.output
    assert "!!! tampered: chain broken, pulls refused until resolved" in second.output
    assert second.output.splitlines()[-1].startswith("9 gates, 3 failed, 0 new events, ")


def test_the_pool_size_comes_from_the_configuration_and_is_checked(tmp_path):
    create_home(tmp_path / "office", {"role": "office", "site_id": "nanqin", "sync": {"pull_workers": 0}})
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "office"), "--lang", "en", "office", "pull"])
    assert (result.exit_code, result.output) == (1, "Error: gates pulled at the same time must be 1 to 64, not 0 "
                                                    "(kiosk.toml [sync] pull_workers or --workers)\n")
    flag = CliRunner().invoke(cli, ["--home", str(tmp_path / "office"), "office", "pull", "--workers", "65"])
    assert flag.exit_code == 2


class SendsMore:
    """The gate's application, answering /events with ten times the events asked for (a hostile gate)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/api/v1/events":
            environ["QUERY_STRING"] = environ["QUERY_STRING"].replace("limit=50", "limit=500")
        return self.app(environ, start_response)


def test_a_gate_that_sends_more_than_asked_is_refused_before_it_fills_the_memory(fleet, tmp_path):
    gate = fleet[0]["g2"]
    server = waitress.create_server(SendsMore(create_app({"KIOSK_HOME": str(gate.home)})), host="127.0.0.1", port=0,
                                    threads=1, asyncore_use_poll=True)
    threading.Thread(target=server.run, daemon=True).start()
    office = Office(create_home(tmp_path / "office", {"role": "office", "site_id": "nanqin"}))
    try:
        pull.add_gate(office, "g2", f"http://127.0.0.1:{server.effective_port}", gate.token)
        result = pull.pull_gate(office, "g2", lambda: datetime.now(timezone.utc), limit=50)
        assert result.problem == "[bad_answer] malformed answer from the gate: more than the 50 events asked for"
        assert held(office, "g2") == []
    finally:
        office.close()
        server.close()
