"""Fixtures in the Flask tutorial's style (app, client, runner) on a demo community."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.core.clock import FixedClock
from kiosk.gate.service import Gate
from kiosk.sim.demo import create_demo
from kiosk.store import web_users
from web import create_app

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai: the morning shift
OFFICE_USER, OFFICE_PASSWORD = "office1", "office-pass-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    community = create_demo(tmp_path_factory.mktemp("demo-template") / "demo", NOW)
    with Gate.open(community.gate_home) as gate:
        web_users.add_user(gate.db, OFFICE_USER, "office", OFFICE_PASSWORD)
    return community.root


@pytest.fixture
def demo(demo_template, tmp_path):
    """A fresh copy of the demo community for each test."""
    root = shutil.copytree(demo_template, tmp_path / "demo")
    return create_demo(root, NOW)


@pytest.fixture
def clock():
    return FixedClock(NOW + timedelta(minutes=1))


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


@pytest.fixture
def gate(demo, clock):
    with Gate.open(demo.gate_home, clock=clock) as opened:
        yield opened


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
