"""Fuzzing, bounded and deterministic: the pass-token parser, the bundle loader, the events API
(hypothesis and schemathesis) and the web forms. No crash, no 5xx, nothing changed on refusal.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from datetime import timedelta

import base45
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.sync import fill_events
from kiosk.core import passes
from kiosk.core.clock import parse_utc
from kiosk.core.rules import Scan
from kiosk.core.signing import key_id
from kiosk.office.service import Office
from kiosk.store import registry, tokens
from kiosk.store.db import open_db
from tests.conftest import NOW
from tests.web.conftest import csrf_token, office_login, sign_on
from web.api import OPENAPI

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    """Overwrite bytes at positions (modulo the length), then maybe truncate."""
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


# --- pass tokens ------------------------------------------------------------------------

@FUZZ
@given(text=st.text(max_size=500) | st.from_regex(r"\AGP1:[0-9A-Z $%*+./:-]{0,400}\Z"))
def test_pass_parser_never_raises_on_any_text(gate, text):
    result = passes.check(text, registry.trusted_keys(gate.db), "jinan", NOW)
    assert result.code in ("unreadable", "unknown_key", "bad_signature", "expired", "not_yet_valid", "wrong_site")


@FUZZ
@given(which=st.sampled_from(["resident", "revoked", "vehicle", "isolated"]),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.none() | st.integers(0, 120))
def test_mutated_real_tokens_are_refused_never_raise(gate, demo, which, edits, cut):
    token = demo.tokens[which]
    raw = base45.b45decode(token[4:])
    mutated = mutate(raw, edits, cut)
    result = passes.check("GP1:" + base45.b45encode(mutated).decode(), registry.trusted_keys(gate.db), "jinan", NOW)
    if mutated != raw:
        assert result.code is not None and result.code != "ok"
    decision = gate.check(Scan("in", token=token[:4] + token[4:][::-1], temperature=36.5, lane="in"),
                          NOW, record=False).decision
    assert decision.outcome == "deny"


# --- registry bundles -------------------------------------------------------------------

def registry_state(db) -> list:
    conn = db.conn
    return [conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in (*registry.REGISTRY_TABLES, "registry_meta", "trusted_keys")]


@pytest.fixture
def bundle_db(demo, tmp_path):
    """A function that gives a fresh copy of the gate's database (so every example starts equal)."""
    source = demo.gate_home / "gate.db"
    opened = []

    def fresh():
        copy = tmp_path / f"fuzz-{len(opened)}.db"
        shutil.copy(source, copy)
        db = open_db(copy, "gate")
        opened.append(db)
        return db

    yield fresh
    for db in opened:
        db.conn.close()


@pytest.fixture
def real_bundle(demo):
    with Office.open(demo.office_home) as office:
        tables = registry.registry_snapshot(office.db, "jinan")
        key = office.signing_key()
    return key, tables


def assert_refused_or_loaded(db, data: bytes) -> None:
    before = registry_state(db)
    try:
        registry.load_bundle(db, data, "jinan", NOW + timedelta(hours=1))
    except registry.BundleError as exc:
        assert exc.code in ("malformed", "unknown_key", "bad_signature", "wrong_site", "not_newer")
        assert registry_state(db) == before
    else:  # a loaded bundle leaves a registry the gate can use: its pages read these
        meta = registry.meta(db)
        assert int(meta["version"]) > 1 and parse_utc(meta["issued_utc"])
        assert isinstance(registry.settings(db), dict)


@FUZZ
@given(data=st.binary(max_size=600))
def test_bundle_loader_refuses_arbitrary_bytes(bundle_db, data):
    assert_refused_or_loaded(bundle_db(), data)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.none() | st.integers(0, 4000))
def test_mutated_real_bundles_are_refused_and_change_nothing(bundle_db, real_bundle, edits, cut):
    key, tables = real_bundle
    data = registry.build_bundle(key, site_id="jinan", version=2, issued=NOW, tables=tables, settings={},
                                 trusted_keys=[])
    mutated = mutate(data, edits, cut)
    db = bundle_db()
    assert_refused_or_loaded(db, mutated)
    if mutated != data:
        assert registry.meta(db)["version"] == "1" or json.loads(mutated) == json.loads(data)


def signed(key, payload) -> bytes:
    """An envelope correctly signed by the trusted office key around any payload at all."""
    body = gzip.compress(json.dumps(payload).encode(), mtime=0)
    return json.dumps({"format": registry.BUNDLE_FORMAT, "key_id": key_id(key.public_key()),
                       "payload": base64.b64encode(body).decode(),
                       "signature": base64.b64encode(key.sign(body)).decode()}).encode()


@FUZZ
@given(payload=st.fixed_dictionaries(
    {"format": st.just(registry.BUNDLE_FORMAT), "site_id": st.just("jinan") | st.text(max_size=5),
     "version": st.integers(-2, 5) | st.just("3") | JSON, "issued_utc": st.sampled_from(["2026-11-29T02:00:00.000Z", "2026-11-29", "garbage"]) | JSON,
     "tables": st.just({}) | st.dictionaries(st.sampled_from(list(registry.REGISTRY_TABLES) + ["events", "x"]),
                               st.lists(st.dictionaries(st.sampled_from(["id", "name", "site_id", "status", "x"]),
                                                        JSON, max_size=4), max_size=3), max_size=3) | JSON,
     "settings": st.just({}) | JSON, "trusted_keys": st.just([]) | JSON}) | JSON)
def test_signed_bundles_with_any_content_never_raise_anything_but_bundle_error(bundle_db, real_bundle, payload):
    assert_refused_or_loaded(bundle_db(), signed(real_bundle[0], payload))


# --- the events API -----------------------------------------------------------------------

@pytest.fixture
def api(app, gate, clock):
    fill_events(gate.db, 40, NOW, gate.gate_id, gate.site_id)
    _, secret = tokens.create_token(gate.db, "office", "office", clock.now())
    return app.test_client(), {"Authorization": f"Bearer {secret}"}


PARAM = st.none() | st.integers(-10, 10**16) | st.text(max_size=12)


@FUZZ
@given(since=PARAM, limit=PARAM, extra=st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6), max_size=2))
def test_events_api_answers_every_query_without_5xx(api, since, limit, extra):
    client, headers = api
    query = {**extra, **{k: str(v) for k, v in (("since", since), ("limit", limit)) if v is not None}}
    response = client.get("/api/v1/events", query_string=query, headers=headers)
    assert response.status_code in (200, 400), (query, response.status_code)
    if response.status_code == 200:
        lines = [json.loads(line) for line in response.data.decode().splitlines()]
        assert lines[-1]["count"] == len(lines) - 1
        assert [row["seq"] for row in lines[:-1]] == list(range(int(query.get("since", 0)) + 1,
                                                                 lines[-1]["next"] + 1))


schema = schemathesis.openapi.from_dict(OPENAPI)
schema.config.generation.update(max_examples=40, deterministic=True, modes=list(schemathesis.GenerationMode))


@pytest.mark.single_process  # one test id for every API operation: pytest-xdist would run only one
@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_api_never_answers_5xx_to_valid_or_invalid_requests(case, app, api):
    _, headers = api
    for with_token in (headers, {}):
        response = case.call(app=app, headers=with_token)
        assert response.status_code < 500, (case.path, case.query, response.status_code)
        if not with_token and case.path not in ("/health", "/openapi.json"):
            assert response.status_code in (401, 405)  # 405: a method the route does not have


# --- the web forms --------------------------------------------------------------------------

FIELD = st.text(max_size=40) | st.sampled_from(["", "36.5", "99999", "-1", "nan", "inf", "1e308", "in", "out",
                                                "2026-11-28", "610113", "13800000000", "1-1-101"])
GUARD_FORMS = {"/actions/check": ["pass_id", "temperature", "lane"], "/actions/temperature": ["value", "lane"],
               "/actions/returnee": ["name", "phone", "id_last4", "origin", "arrival", "household"],
               "/actions/vehicle": ["plate", "pass_id", "driver", "driver_temperature", "passenger",
                                    "disinfected", "lane"]}


@pytest.fixture
def guard_client(client, gate, demo, clock):
    sign_on(client)
    refused = gate.check(Scan("in", token=demo.tokens["isolated"], temperature=36.5, lane="in"), clock.now()).event
    return client, csrf_token(client, "/actions/check"), refused["id"]


@FUZZ
@given(url=st.sampled_from(sorted(GUARD_FORMS)), values=st.lists(FIELD, min_size=7, max_size=7),
       query=st.text(max_size=20))
def test_guard_forms_never_answer_5xx(guard_client, url, values, query):
    client, token, _ = guard_client
    form = dict(zip(GUARD_FORMS[url], values), csrf_token=token)
    assert client.post(url, data=form).status_code < 500, form
    assert client.get(url, query_string={"q": query, "lane": values[0]}).status_code < 500


@FUZZ
@given(reason=FIELD, supervisor=FIELD, pin=FIELD, event_id=st.none() | st.text(max_size=20))
def test_override_form_never_answers_5xx(guard_client, reason, supervisor, pin, event_id):
    client, token, refused_id = guard_client
    url = "/actions/override/" + (refused_id if event_id is None else event_id.replace("/", "_") or "x")
    form = {"reason": reason, "supervisor_id": supervisor, "supervisor_pin": pin, "csrf_token": token}
    assert client.post(url, data=form).status_code < 500


@FUZZ
@given(values=st.lists(FIELD, min_size=9, max_size=9), note=FIELD)
def test_office_filters_and_forms_never_answer_5xx(client, gate, values, note):
    if not client.get_cookie("session"):
        office_login(client)
    names = ["date", "shift", "lane", "direction", "outcome", "code", "guard", "page", "lang"]
    query = dict(zip(names, values))
    for url in ("/office/events", "/office/events.csv", "/office/events.xlsx", "/office/shifts",
                "/office/chart", "/office/alerts"):
        assert client.get(url, query_string=query).status_code < 500, (url, query)
    token = csrf_token(client, "/office/alerts")
    response = client.post(f"/office/alerts/{values[0].replace('/', '_') or 'x'}/ack",
                           data={"note": note, "csrf_token": token})
    assert response.status_code in (302, 400, 404)
