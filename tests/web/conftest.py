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
    """The scripted two-gate day (tests/web/office_day.py), played and pulled once per test run and
    store: ``office_day_template(cluster)`` has the office's store on that PostgreSQL cluster.

    Under pytest-xdist (make test) the first worker to need the SQLite day plays it in the run's
    shared folder while the other waits on the lock, then reads the office folder it left; a
    PostgreSQL day lives in the worker's own cluster, so each worker plays its own.
    """
    from tests.web.office_day import OfficeDay, scripted_day

    days = {}

    def shared_sqlite_day() -> OfficeDay:
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

    def template(postgres=None):
        store = "sqlite" if postgres is None else "postgresql"
        if store not in days:
            if postgres is None and os.environ.get("PYTEST_XDIST_WORKER"):
                days[store] = shared_sqlite_day()
            else:
                url = postgres.new_database() if postgres else None
                days[store] = scripted_day(tmp_path_factory.mktemp(f"office-day-{store}") / "day", url)
        return days[store]
    return template


@pytest.fixture(scope="module")
def office_day(office_day_template, tmp_path_factory, request):
    """A module's own copy of the day's office folder (acknowledgements change it), and of its
    PostgreSQL database when the module asks for that store (indirect parametrisation)."""
    import shutil

    from kiosk.store.config import load_config
    from tests.postgres_server import use_database

    postgres = request.getfixturevalue("postgres") if getattr(request, "param", "sqlite") == "postgresql" else None
    home = shutil.copytree(office_day_template(postgres).office_home, tmp_path_factory.mktemp("office-day-copy") / "office")
    if postgres:
        use_database(home, postgres.copy_database(load_config(home)["database"]))
    return home
