"""Sign-on, sign-off, office login, CSRF, roles and rate limits through the test client."""

from __future__ import annotations

import json

from tests.web.conftest import OFFICE_PASSWORD, csrf_token, office_login, post, sign_on


def test_anonymous_is_sent_to_sign_on_for_pages_and_refused_for_actions(client):
    assert client.get("/").status_code == 302
    page = client.get("/screen/")
    assert page.status_code == 302 and page.location.startswith("/sign-on")
    assert client.get("/office/events").location.startswith("/login")
    token = csrf_token(client, "/sign-on")
    assert client.post("/actions/check", data={"csrf_token": token, "pass_id": "X"}).status_code == 401
    assert client.post("/actions/temperature", data={"csrf_token": token, "value": "36.5"}).status_code == 401


def test_sign_on_records_the_guard_and_opens_the_screen(client, gate):
    response = sign_on(client)
    assert response.status_code == 302 and response.location == "/screen/handover"  # the note first, if any
    assert client.get("/screen/handover").location == "/screen/"  # none here
    assert [row["guard_id"] for row in gate.db.query("SELECT * FROM duty WHERE off_utc IS NULL")] == ["G001"]
    assert client.get("/screen/").status_code == 200
    assert client.get("/actions/").status_code == 200


def test_wrong_pin_is_refused_then_the_guard_is_locked_out(client, gate):
    for _ in range(4):
        assert sign_on(client, pin="0000").status_code == 401
    locked = sign_on(client, pin="0000")
    assert locked.status_code == 423
    assert "已锁定" in locked.get_data(as_text=True)
    assert sign_on(client, pin="1234").status_code == 423  # even the right PIN, while locked
    assert gate.db["duty"].count == 0


def test_sign_on_attempts_are_rate_limited_per_address(app, client):
    app.config["SIGNON_LIMIT"] = (3, 600)
    for guard_id in ("X1", "X2", "X3"):
        assert sign_on(client, guard_id=guard_id, pin="0000").status_code == 401
    assert sign_on(client, guard_id="G001", pin="1234").status_code == 429


def test_post_without_csrf_token_is_refused(client, gate):
    response = client.post("/sign-on", data={"guard_id": "G001", "pin": "1234", "lane": "in"})
    assert response.status_code == 400
    assert gate.db["duty"].count == 0
    sign_on(client)
    before = gate.db["events"].count
    assert client.post("/actions/temperature", data={"value": "36.5", "lane": "in"}).status_code == 400
    assert client.post("/actions/check", data={"pass_id": "P1", "lane": "in", "csrf_token": "forged"}).status_code == 400
    assert gate.db["events"].count == before and gate.db["manual_readings"].count == 0


def test_sign_off_with_handover_note_ends_the_session(client, gate):
    sign_on(client)
    assert post(client, "/sign-off", {"pin": "9999", "note": "x"}).status_code == 401
    response = post(client, "/sign-off", {"pin": "1234", "note": "2号楼外卖已登记"})
    assert response.status_code == 302 and response.location == "/sign-on"
    last = list(gate.db.query("SELECT * FROM events ORDER BY seq DESC LIMIT 1"))[0]
    assert last["kind"] == "sign_off" and json.loads(last["data"])["handover_note"] == "2号楼外卖已登记"
    assert client.get("/screen/").status_code == 302  # no longer signed on


def test_guard_is_forbidden_on_office_pages(client):
    sign_on(client)
    for url in ("/office/events", "/office/events.csv", "/office/shifts", "/office/alerts", "/office/chart"):
        assert client.get(url).status_code == 403, url


def test_office_login_wrong_password_and_success(client):
    assert office_login(client, password="nope-nope").status_code == 401
    assert office_login(client, name="ghost").status_code == 401
    response = office_login(client, password=OFFICE_PASSWORD)
    assert response.status_code == 302 and response.location == "/office/events"
    assert client.get("/office/events").status_code == 200
    assert client.get("/screen/").status_code == 200  # the office may watch the screen
    assert client.post("/actions/check", data={"csrf_token": csrf_token(client, "/office/alerts")}).status_code == 401
    post(client, "/logout", {}, form_url="/office/events")
    assert client.get("/office/events").status_code == 302


def test_office_login_locks_after_repeated_failures(client):
    for _ in range(4):
        assert office_login(client, password="wrong-wrong").status_code == 401
    assert office_login(client, password="wrong-wrong").status_code == 423
    assert office_login(client).status_code == 423
