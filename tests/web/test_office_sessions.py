"""The office page's logins are server-side sessions: logout and user removal end them (issue 14, item 5);
its failed logins are recorded in its security log, shown to office users (issue 12)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from tests.conftest import STORES
from tests.web.conftest import TOKEN
from tests.web.office_day import OFFICE_USER, PASSWORD, VIEWER_USER, at
from web import create_app

pytestmark = pytest.mark.parametrize("office_day", STORES, indirect=True, scope="module")


def _app(office_day):
    return create_app({"KIOSK_HOME": str(office_day), "CLOCK": FixedClock(at(23, 59)), "TESTING": True})


def _login(app, name):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    return client


def _with_cookie(app, value):
    """Another browser holding a copy of the cookie (a stolen one)."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def test_a_cookie_kept_from_before_logout_opens_nothing(office_day):
    app = _app(office_day)
    client = _login(app, OFFICE_USER)
    copied = client.get_cookie("session").value
    assert _with_cookie(app, copied).get("/").status_code == 200
    token = TOKEN.search(client.get("/").get_data(as_text=True)).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    after = _with_cookie(app, copied).get("/")
    assert (after.status_code, after.headers["Location"]) == (302, "/login?next=/")


def test_removing_the_user_ends_their_open_session(office_day):
    app = _app(office_day)
    added = CliRunner().invoke(cli, ["--home", str(office_day), "web-user", "add", "temp1", "--role", "viewer"],
                               env={"KIOSK_PASSWORD": PASSWORD})
    assert added.exit_code == 0, added.output
    client = _login(app, "temp1")
    assert client.get("/").status_code == 200
    removed = CliRunner().invoke(cli, ["--lang", "en", "--home", str(office_day), "web-user", "remove", "temp1"])
    assert removed.exit_code == 0, removed.output
    assert client.get("/").status_code == 302
    assert client.post("/alerts/nosuch/ack", data={}).status_code in (400, 401)  # CSRF or no session: refused


def test_failed_logins_are_recorded_and_shown_to_office_users(office_day):
    app = _app(office_day)
    stranger = app.test_client()
    token = TOKEN.search(stranger.get("/login").get_data(as_text=True)).group(1)
    for name, password in ((OFFICE_USER, "guess-1"), ("admin", "guess-2"), (VIEWER_USER, PASSWORD)):
        stranger.post("/login", data={"name": name, "password": password, "csrf_token": token})
    office = _login(app, OFFICE_USER)
    page = office.get("/security").get_data(as_text=True)
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr><td>.*?</tr>", page, re.S)]
    assert rows == ["2026-11-29 23:59 admin 127.0.0.1 用户名或密码错误",
                    "2026-11-29 23:59 office 127.0.0.1 用户名或密码错误"]
    assert 'id="nav-security"' in page
    viewer = _login(app, VIEWER_USER)
    assert viewer.get("/security").status_code == 403
    assert 'id="nav-security"' not in viewer.get("/").get_data(as_text=True)
