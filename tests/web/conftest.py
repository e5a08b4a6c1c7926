"""Fixtures in the Flask tutorial's style (app, client, runner) on the demo community (tests/conftest.py)."""

from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.core.clock import FixedClock
from kiosk.sim.demo import OFFICE_LOGIN
from tests.conftest import NOW
from web import create_app

OFFICE_USER, OFFICE_PASSWORD = OFFICE_LOGIN
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def demo(community):
    """The shared demo community, under the name the Flask tests use."""
    return community


@pytest.fixture
def clock():
    return FixedClock(NOW + timedelta(minutes=1))  # a minute after the demo was made


@pytest.fixture
def app(demo, clock):
    return create_app({"KIOSK_HOME": str(demo.gate_home), "CLOCK": clock, "TESTING": True,
                       "SSE_LIFETIME": 0.3, "SSE_POLL": 0.05})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, url: str) -> str:
    """The CSRF token from a form on ``url`` (as a browser would have it)."""
    response = client.get(url)
    match = TOKEN.search(response.get_data(as_text=True))
    if not match:
        raise AssertionError(f"no CSRF token on {url}: {response.status_code}")
    return match.group(1)


def post(client, url: str, data: dict, form_url: str | None = None):
    """POST a form with the token taken from the page that shows it."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, form_url or url)})


def sign_on(client, guard_id="G001", pin="1234", lane="in"):
    return post(client, "/sign-on", {"guard_id": guard_id, "pin": pin, "lane": lane})


def office_login(client, name=OFFICE_USER, password=OFFICE_PASSWORD):
    return post(client, "/login", {"name": name, "password": password})


@pytest.fixture(scope="session")
def office_day_template(tmp_path_factory):
    """The scripted two-gate day (tests/web/office_day.py), played and pulled once per test run.

    Under pytest-xdist (make test) the first worker to need it plays it in the run's shared folder
    while the other waits on the lock, then reads the office folder it left.
    """
    from tests.web.office_day import OfficeDay, scripted_day

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return scripted_day(tmp_path_factory.mktemp("office-day") / "day")
    shared = tmp_path_factory.getbasetemp().parent / "office-day"  # the workers' basetemps share a parent
    shared.mkdir(exist_ok=True)
    played = shared / "played.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not played.exists():
            day = scripted_day(shared / "day")
            played.write_text(json.dumps({"office": str(day.office_home),
                                          "gates": {site: str(home) for site, home in day.gate_homes.items()}}))
    folders = json.loads(played.read_text())
    return OfficeDay(Path(folders["office"]), {site: Path(home) for site, home in folders["gates"].items()})


@pytest.fixture(scope="module")
def office_day(office_day_template, tmp_path_factory):
    """A module's own copy of the day's office folder (acknowledgements change it)."""
    import shutil

    return shutil.copytree(office_day_template.office_home, tmp_path_factory.mktemp("office-day-copy") / "office")
