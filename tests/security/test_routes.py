"""Every route of create_app, tried without credentials, with a wrong or revoked token, with
another role: refused. The routes come from ``app.url_map``, so a route added later is covered.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from kiosk.core.rules import Scan
from kiosk.office.service import Office, write_bundle
from kiosk.store import registry, tokens, web_users
from tests.web.conftest import csrf_token, office_login, sign_on

# The only routes anybody may use without logging in. Changing this set is a security decision.
# tls.certificate: the certificate's fingerprint, on loopback only (tests/security/test_tls.py);
# screen.offline and screen.service_worker: the page shown when the server cannot be reached (no data)
PUBLIC = {"static", "auth.sign_on", "auth.login", "api.health", "api.openapi", "tls.certificate",
          "screen.offline", "screen.service_worker"}
LOGIN_PAGES = ("/sign-on", "/login")


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route but HEAD/OPTIONS."""
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


@pytest.fixture
def world(app, gate, demo, clock):
    """Real ids for route variables: a refused event (an alert), a newer signed bundle, a token."""
    refused = gate.check(Scan("in", token=demo.tokens["revoked"], temperature=36.5, lane="in"), clock.now()).event
    with Office.open(demo.office_home) as office:
        _, bundle = write_bundle(office, "jinan", clock.now(), demo.root / "next.bundle")
    token_id, token = tokens.create_token(gate.db, "office", "office", clock.now())
    values = {"event_id": [refused["id"]], "fmt": ["csv", "xlsx"], "filename": ["style.css"]}
    return {"values": values, "bundle": bundle.read_bytes(), "token": token, "token_id": token_id,
            "ack": {"seq": refused["seq"], "hash": refused["hash"]}}


def urls(app, world) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) with every route variable filled from real data."""
    found = []
    for endpoint, method, rule in routes(app):
        variables = [part.split(":")[-1] for part in rule.replace(">", "<").split("<")[1::2]]
        missing = [name for name in variables if name not in world["values"]]
        if missing:
            raise AssertionError(f"{rule}: give the security tests a real value for {missing}")
        choices = [{}]
        for name in variables:
            choices = [{**c, name: value} for c in choices for value in world["values"][name]]
        for choice in choices:
            url = rule
            for name, value in choice.items():
                url = url.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
            found.append((endpoint, method, url))
    return found


def send(client, method: str, url: str, world, headers=None, csrf=None):
    """A request that would do something if it were let through: real bundle, real ack, a form."""
    if url == "/api/v1/registry":
        return client.open(url, method=method, data=world["bundle"], headers=headers or {})
    if url == "/api/v1/ack":
        return client.open(url, method=method, json=world["ack"], headers=headers or {})
    form = {"pass_id": "P0", "reason": "x", "value": "36.5", "note": "x", "pin": "1234", "plate": "陕H12345"}
    if csrf:
        form["csrf_token"] = csrf
    return client.open(url, method=method, data=form if method == "POST" else None, headers=headers or {})


def refused(client, response, login: tuple[str, ...] = LOGIN_PAGES) -> bool:
    """401/403, or redirects that end on a login page (never a page with data)."""
    for _ in range(4):
        if response.status_code in (401, 403):
            return True
        if response.status_code != 302:
            return False
        target = urlsplit(response.location).path
        if target in login:
            return True
        response = client.get(target)
    return False


def state(gate) -> tuple:
    """Everything a refused request must leave alone."""
    conn = gate.db.conn
    return (conn.execute("SELECT count(*), max(seq) FROM events").fetchone(),
            conn.execute("SELECT count(*) FROM alert_acks").fetchone(),
            conn.execute("SELECT count(*) FROM manual_readings").fetchone(),
            conn.execute("SELECT * FROM sync_acks").fetchall(),
            conn.execute("SELECT count(*) FROM duty").fetchone(),
            registry.meta(gate.db)["version"])


def test_the_public_routes_are_exactly_the_allow_list(app):
    endpoints = {endpoint for endpoint, _, _ in routes(app)}
    assert PUBLIC <= endpoints
    assert {e for e in endpoints if e.startswith("api.")} == {
        "api.health", "api.openapi", "api.events", "api.shifts", "api.put_registry", "api.ack", "api.digest"}


def test_anonymous_is_refused_everywhere_but_the_public_routes(app, client, gate, world):
    checked, before = 0, state(gate)
    for endpoint, method, url in urls(app, world):
        if endpoint in PUBLIC:
            continue
        csrf = csrf_token(client, "/sign-on")  # a valid token: it is the login that is missing
        response = send(client, method, url, world, csrf=csrf)
        assert refused(client, response), (method, url, response.status_code)
        assert client.get("/screen/").status_code == 302  # nothing logged us in on the way
        checked += 1
    assert checked >= 20
    assert state(gate) == before


def test_the_public_routes_give_nothing_away(client, world):
    assert client.get("/api/v1/health").json == {"status": "ok"}
    assert client.get("/api/v1/openapi.json").json["info"]["title"] == "Gate kiosk sync API"
    with client.get("/static/style.css") as response:
        assert response.status_code == 200
    for page in (*LOGIN_PAGES, "/screen/offline"):
        html = client.get(page).get_data(as_text=True)
        assert "G001" not in html and "王建国" not in html and "张晓明" not in html


def test_posts_without_a_csrf_token_are_refused_even_when_logged_in(app, client, gate, world):
    sign_on(client)
    before = state(gate)
    for endpoint, method, url in urls(app, world):
        if method == "POST" and not endpoint.startswith("api."):
            assert send(client, method, url, world).status_code == 400, url
    assert state(gate) == before


def test_a_guard_is_forbidden_on_every_office_route(app, client, gate, world):
    sign_on(client)
    before = state(gate)
    for endpoint, method, url in urls(app, world):
        if endpoint.startswith("office."):
            response = send(client, method, url, world, csrf=csrf_token(client, "/actions/check"))
            assert response.status_code == 403, (method, url)
    assert state(gate) == before


def test_an_office_login_is_refused_on_every_guard_route(app, client, gate, world):
    office_login(client)
    before = state(gate)
    guard_only = [(e, m, u) for e, m, u in urls(app, world) if e.startswith("actions.") or e == "auth.sign_off"]
    assert len(guard_only) >= 10
    for endpoint, method, url in guard_only:
        response = send(client, method, url, world, csrf=csrf_token(client, "/office/alerts"))
        assert refused(client, response, login=("/sign-on",)), (method, url, response.status_code)
        assert client.get("/office/events").status_code == 200  # still the office, never a guard
    assert state(gate) == before


def test_a_signed_off_guard_keeps_no_rights(app, client, gate, clock, world):
    sign_on(client)
    gate.sign_off("G001", "1234", clock.now(), "")  # from the touchscreen or another process
    before = state(gate)
    for endpoint, method, url in urls(app, world):
        if endpoint.startswith(("actions.", "screen.")) and endpoint not in PUBLIC or endpoint == "auth.sign_off":
            response = send(client, method, url, world, csrf=csrf_token(client, "/sign-on"))
            assert refused(client, response), (method, url)
    assert state(gate) == before


def test_a_session_cookie_signed_with_another_secret_is_ignored(app, client, gate, clock):
    gate.sign_on("G001", "1234", "in", clock.now())
    other = Flask("forger")
    other.secret_key = secrets.token_hex(32)
    forged = SecureCookieSessionInterface().get_signing_serializer(other).dumps(
        {"guard_id": "G001", "lane": "in", "web_user": "office1", "web_role": "supervisor"})
    client.set_cookie("session", forged)
    assert refused(client, client.get("/office/events"))
    assert refused(client, client.get("/actions/"))
    assert refused(client, client.get("/screen/"))


@pytest.mark.parametrize("credential", ["none", "empty", "wrong", "revoked", "hash", "basic", "query",
                                        "guard_session", "office_session"])
def test_every_api_route_refuses_without_a_live_token(app, client, gate, clock, world, credential):
    secret = world["token"]
    headers = {"none": {}, "empty": {"Authorization": "Bearer "},
               "wrong": {"Authorization": "Bearer kt_" + secrets.token_urlsafe(32)},
               "revoked": {"Authorization": f"Bearer {secret}"},
               "hash": {"Authorization": f"Bearer {tokens.token_hash(secret)}"},  # what a stolen DB holds
               "basic": {"Authorization": f"Basic {secret}"}}.get(credential, {})
    if credential == "revoked":
        tokens.revoke_token(gate.db, world["token_id"], clock.now())
    if credential == "guard_session":
        sign_on(client)
    if credential == "office_session":
        office_login(client)
    before = state(gate)
    api = [(e, m, u) for e, m, u in urls(app, world) if e.startswith("api.") and e not in PUBLIC]
    assert len(api) == 5
    for endpoint, method, url in api:
        if credential == "query":
            url += f"?token={secret}"
        response = send(client, method, url, world, headers=headers)
        assert response.status_code == 401, (credential, method, url)
        assert response.json["error"] == "unauthorized"
    assert client.get("/api/v1/health", headers=headers).json == {"status": "ok"}
    assert state(gate) == before


def test_the_live_token_works_so_the_refusals_above_mean_something(client, gate, world):
    headers = {"Authorization": f"Bearer {world['token']}"}
    assert client.get("/api/v1/events?limit=1", headers=headers).status_code == 200
    assert client.get("/api/v1/health", headers=headers).json["gate_id"] == "jinan-gate"
    assert send(client, "PUT", "/api/v1/registry", world, headers=headers).json["version"] == 2


def test_token_and_login_roles_are_the_documented_ones():
    # Only the office holds API tokens and only office/supervisor log in to the pages: a new role
    # must come with its own refusal tests here.
    assert tokens.ROLES == ("office",)
    assert web_users.ROLES == ("office", "supervisor")
    # The office folder's own page: viewer reads only (tests/web/test_office_web.py refuses its acknowledgement).
    assert web_users.OFFICE_ROLES == ("office", "viewer")
