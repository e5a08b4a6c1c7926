"""PIN lockout holds under a burst: concurrent wrong PINs get exactly MAX_FAILURES guesses.

Through the Flask test client from many threads (injected clock: the lockout's end is
exact) and through `kiosk serve` (waitress, real HTTP, its own threads).
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import requests

from kiosk.gate.service import Gate
from kiosk.store import guards
from kiosk.store.guards import LOCKOUT, MAX_FAILURES, GuardError
from kiosk.store.web_users import authenticate
from tests.conftest import NOW
from tests.servers import KioskServer
from tests.waiting import PATIENCE_S
from tests.web.conftest import OFFICE_PASSWORD, OFFICE_USER, TOKEN, csrf_token, sign_on

BURST = 24


def burst(make_attempt, count: int = BURST) -> Counter:
    """Run ``count`` attempts at once (each prepared first, then released together)."""
    barrier, statuses, lock = threading.Barrier(count), Counter(), threading.Lock()

    def run(attempt):
        barrier.wait()
        status = attempt()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=run, args=(make_attempt(i),)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def client_attempt(app, path: str, form: dict):
    client = app.test_client()
    token = csrf_token(client, path)
    return lambda: client.post(path, data={**form, "csrf_token": token}).status_code


def guard_row(gate) -> tuple:
    return gate.db.conn.execute("SELECT failed_attempts, locked_until FROM guards WHERE id = 'G001'").fetchone()


def test_a_burst_of_wrong_pins_gets_exactly_the_allowed_guesses(app, client, gate, clock):
    app.config["SIGNON_LIMIT"] = (1000, 600)  # the per-guard lockout itself is under test here
    statuses = burst(lambda _: client_attempt(app, "/sign-on", {"guard_id": "G001", "pin": "0000", "lane": "in"}))
    assert statuses == {401: MAX_FAILURES - 1, 423: BURST - MAX_FAILURES + 1}
    assert guard_row(gate) == (0, "2026-11-29T02:06:00.000Z")  # clock.now() + 5 minutes
    assert sign_on(client, pin="1234").status_code == 423  # even the right PIN, while locked
    clock.advance(seconds=LOCKOUT.total_seconds() - 1)
    assert sign_on(client, pin="1234").status_code == 423
    clock.advance(seconds=1)
    assert sign_on(client, pin="1234").status_code == 302
    assert guard_row(gate) == (0, None)
    assert gate.db["duty"].count == 1


def test_a_burst_with_the_right_pin_inside_cannot_reset_the_lock(app, client, gate, clock):
    app.config["SIGNON_LIMIT"] = (1000, 600)
    # Lock first, then a burst of right and wrong PINs: none gets in before the lock ends.
    for _ in range(MAX_FAILURES):
        sign_on(client, pin="0000")
    statuses = burst(lambda i: client_attempt(
        app, "/sign-on", {"guard_id": "G001", "pin": "1234" if i % 2 else "0000", "lane": "in"}))
    assert statuses == {423: BURST}
    assert gate.db["duty"].count == 0


def test_office_logins_lock_under_a_burst_too(app, gate, clock):
    app.config["SIGNON_LIMIT"] = (1000, 600)
    statuses = burst(lambda _: client_attempt(app, "/login", {"name": OFFICE_USER, "password": "wrong-wrong"}))
    assert statuses == {401: MAX_FAILURES - 1, 423: BURST - MAX_FAILURES + 1}
    row = gate.db.conn.execute("SELECT failed_attempts, locked_until FROM web_users WHERE name = ?",
                               [OFFICE_USER]).fetchone()
    assert row == (0, "2026-11-29T02:06:00.000Z")


def test_the_address_limit_holds_under_a_burst_over_many_guard_ids(app):
    app.config["SIGNON_LIMIT"] = (10, 600)
    statuses = burst(lambda i: client_attempt(app, "/sign-on", {"guard_id": f"X{i}", "pin": "0000", "lane": "in"}))
    assert statuses == {401: 10, 429: BURST - 10}


def test_a_supervisor_pin_burst_on_overrides_is_bounded(gate, clock, demo):
    # The supervisor's PIN is checked by the same code (kiosk.store.guards.authenticate) from the override form.
    def attempt(_):
        def run():
            try:
                with Gate.open(demo.gate_home, clock=clock) as own:
                    guards.authenticate(own.db, "S001", "0000", clock.now())
            except guards.GuardError as exc:
                return exc.code
        return run

    assert burst(attempt) == {"wrong_pin": MAX_FAILURES - 1, "locked": BURST - MAX_FAILURES + 1}


def test_web_user_lock_ends_on_time(gate):
    codes = []
    for _ in range(MAX_FAILURES):
        with pytest.raises(GuardError) as refused:
            authenticate(gate.db, OFFICE_USER, "nope-nope", NOW)
        codes.append(refused.value.code)
    assert codes == ["wrong_password"] * (MAX_FAILURES - 1) + ["locked"]
    with pytest.raises(GuardError, match="locked until"):
        authenticate(gate.db, OFFICE_USER, OFFICE_PASSWORD, NOW + LOCKOUT - timedelta(milliseconds=1))
    assert authenticate(gate.db, OFFICE_USER, OFFICE_PASSWORD, NOW + LOCKOUT)["role"] == "office"


def test_lockout_holds_against_a_burst_on_the_real_server(demo, tmp_path):
    with KioskServer(demo.gate_home, tmp_path / "serve.log") as server:
        base = server.url

        def attempt(_, pin="0000"):
            session = requests.Session()
            token = TOKEN.search(session.get(base + "/sign-on", timeout=PATIENCE_S).text).group(1)
            form = {"guard_id": "G001", "pin": pin, "lane": "in", "csrf_token": token}
            return lambda: session.post(base + "/sign-on", data=form, allow_redirects=False, timeout=PATIENCE_S).status_code

        statuses = burst(attempt, count=16)
        assert statuses[401] <= MAX_FAILURES - 1 and statuses[401] + statuses[423] + statuses[429] == 16
        assert attempt(0, pin="1234")() in (423, 429)  # locked, and this address is over its limit
    with Gate.open(demo.gate_home) as gate:
        assert guard_row(gate)[1] is not None and gate.db["duty"].count == 0
