"""The gate's /api/v1 in process (Flask test client): auth, cursor, 410, ack, prune, registry."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.sync import fill_events
from kiosk.core.chain import event_hash
from kiosk.core.clock import FixedClock
from kiosk.core.signing import public_key_text
from kiosk.gate import sync_feed
from kiosk.gate.service import Gate
from kiosk.office.service import Office, write_bundle
from kiosk.store import registry, tokens
from kiosk.store.events import verify_log
from tests.conftest import NOW
from web import create_app

ENDPOINTS = [("GET", "/api/v1/events"), ("GET", "/api/v1/events?since=0&limit=5"), ("GET", "/api/v1/shifts"),
             ("PUT", "/api/v1/registry"), ("POST", "/api/v1/ack")]


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
def client(community, clock):
    return create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": clock}).test_client()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def fill(community, count, start=NOW):
    with Gate.open(community.gate_home) as gate:
        return fill_events(gate.db, count, start, gate.gate_id, gate.site_id)


def lines(response) -> list[dict]:
    return [json.loads(line) for line in response.data.decode().splitlines()]


@pytest.mark.parametrize("method,path", ENDPOINTS)
@pytest.mark.parametrize("token", [None, "", "kt_wrong", "revoked"])
def test_every_endpoint_refuses_without_a_valid_token(community, client, gate_token, method, path, token):
    if token == "revoked":
        with Gate.open(community.gate_home) as gate:
            token_id, token = tokens.create_token(gate.db, "office", "old", NOW)
            tokens.revoke_token(gate.db, token_id, NOW)
    response = client.open(path, method=method, headers=auth(token) if token is not None else {},
                           data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert fill(community, 0)[0] == 0  # nothing was recorded or changed


def test_health_is_minimal_without_a_token_and_full_with_one(community, client, gate_token):
    assert client.get("/api/v1/health").json == {"status": "ok"}
    assert client.get("/api/v1/health", headers=auth("kt_wrong")).json == {"status": "ok"}
    fill(community, 3)
    full = client.get("/api/v1/health", headers=auth(gate_token)).json
    assert (full["gate_id"], full["site_id"], full["last_seq"], full["clock_utc"]) == \
        ("jinan-gate", "jinan", 3, "2026-11-29T02:00:00.000Z")
    assert full["registry"]["version"] == 1 and full["registry"]["age_s"] == 0
    assert full["office_last_contact_utc"] == "2026-11-29T02:00:00.000Z"
    assert full["free_disk_bytes"] > 0 and full["clock_synced"] is True


def test_tokens_are_stored_hashed_and_listed_without_secrets(community, gate_token):
    with Gate.open(community.gate_home) as gate:
        stored = gate.db.conn.execute("SELECT token_hash FROM api_tokens").fetchall()
        assert stored == [(tokens.token_hash(gate_token),)]
        assert gate_token not in json.dumps(tokens.list_tokens(gate.db))
        assert tokens.authenticate(gate.db, gate_token, NOW)["role"] == "office"
        with pytest.raises(tokens.TokenError, match="no token TNOPE") as refused:
            tokens.revoke_token(gate.db, "TNOPE", NOW)
        assert refused.value.code == "unknown_token"


def test_events_stream_in_order_with_the_cursor_line(community, client, gate_token):
    fill(community, 7)
    first = lines(client.get("/api/v1/events?since=0&limit=5", headers=auth(gate_token)))
    assert [row["seq"] for row in first[:-1]] == [1, 2, 3, 4, 5]
    assert all(event_hash(row) == row["hash"] for row in first[:-1])
    assert first[-1] == {"next": 5, "count": 5, "done": False}
    rest = client.get("/api/v1/events?since=5&limit=5", headers=auth(gate_token))
    assert rest.mimetype == "application/x-ndjson"
    assert lines(rest)[-1] == {"next": 7, "count": 2, "done": True}
    assert lines(client.get("/api/v1/events?since=7", headers=auth(gate_token))) == \
        [{"next": 7, "count": 0, "done": True}]


@pytest.mark.parametrize("query", ["since=-1", "since=x", "limit=0", "limit=50001"])
def test_bad_cursor_parameters_are_400(client, gate_token, query):
    response = client.get(f"/api/v1/events?{query}", headers=auth(gate_token))
    assert response.status_code == 400 and response.json["error"] == "bad_request"


def ack(client, token, seq, hash_):
    return client.post("/api/v1/ack", headers=auth(token), json={"seq": seq, "hash": hash_})


@pytest.mark.parametrize("seq", [0, 2**63, 38865924522338309032116224, "5", 1.5])
def test_an_ack_outside_sqlites_integers_is_400(client, gate_token, seq):
    response = ack(client, gate_token, seq, "00")
    assert (response.status_code, response.json["error"]) == (400, "bad_request")


def hash_of(community, seq):
    with Gate.open(community.gate_home) as gate:
        return gate.db.conn.execute("SELECT hash FROM events WHERE seq = ?", [seq]).fetchone()[0]


def test_ack_prunes_only_acknowledged_events_older_than_the_retention(community, client, gate_token, clock):
    fill(community, 100, start=NOW - timedelta(days=200))  # old enough for the 90-day retention
    fill(community, 20, start=NOW - timedelta(days=1))     # young
    h40, h100 = hash_of(community, 40), hash_of(community, 100)
    assert ack(client, gate_token, 40, "0" * 64).status_code == 409  # wrong hash: nothing recorded
    assert ack(client, gate_token, 500, h40).status_code == 422
    assert ack(client, gate_token, 40, h40).json == {"acked_seq": 40, "pruned": 40}
    response = client.get("/api/v1/events?since=39", headers=auth(gate_token))
    assert response.status_code == 410
    assert response.json == {"error": "pruned", "lowest_seq": 41, "message": response.json["message"]}
    assert lines(client.get("/api/v1/events?since=40&limit=1", headers=auth(gate_token)))[0]["seq"] == 41
    # acknowledging everything prunes only what is also older than the retention
    assert ack(client, gate_token, 120, hash_of(community, 120)).json == {"acked_seq": 120, "pruned": 60}
    assert ack(client, gate_token, 100, h100).json == {"acked_seq": 120, "pruned": 0}  # the anchor: idempotent
    assert ack(client, gate_token, 40, h40).status_code == 422  # gone, and no longer provable
    with Gate.open(community.gate_home) as gate:
        assert gate.db.conn.execute("SELECT min(seq), count(*) FROM events").fetchone() == (101, 20)
        assert verify_log(gate.db).ok


def test_pruning_never_removes_an_unacknowledged_event_even_when_asked(community, gate_token):
    fill(community, 50, start=NOW - timedelta(days=400))
    with Gate.open(community.gate_home) as gate:
        assert sync_feed.prune(gate.db, NOW, 0) == 0  # nothing acknowledged yet
        sync_feed.acknowledge(gate.db, 10, hash_of(community, 10), NOW, retention_days=10_000)
        assert sync_feed.prune(gate.db, NOW, 0) == 10
        with pytest.raises(sqlite3.IntegrityError, match="only acknowledged events may be pruned"):
            gate.db.conn.execute("DELETE FROM events WHERE seq = 11")
        assert gate.db.conn.execute("SELECT min(seq), count(*) FROM events").fetchone() == (11, 40)
        assert gate.db.conn.execute("SELECT seq FROM chain_anchor").fetchone() == (10,)
        assert verify_log(gate.db).ok


def test_an_old_event_after_a_young_one_stays(community, gate_token):
    fill(community, 5, start=NOW - timedelta(days=200))
    fill(community, 1, start=NOW)                        # a clock that was right
    fill(community, 5, start=NOW - timedelta(days=300))  # then wrong again
    with Gate.open(community.gate_home) as gate:
        sync_feed.acknowledge(gate.db, 11, hash_of(community, 11), NOW, retention_days=90)
        assert [r[0] for r in gate.db.conn.execute("SELECT seq FROM events")] == list(range(6, 12))
        assert verify_log(gate.db).ok


def bundle_from(community, tmp_path, **change) -> bytes:
    with Office.open(community.office_home) as office:
        _, path = write_bundle(office, change.get("site", "jinan"), NOW, tmp_path / "b.bundle")
    return path.read_bytes()


def registry_state(community):
    with Gate.open(community.gate_home) as gate:
        return registry.meta(gate.db), gate.db["persons"].count


def test_registry_push_applies_a_newer_bundle(community, client, gate_token, tmp_path):
    response = client.put("/api/v1/registry", headers=auth(gate_token), data=bundle_from(community, tmp_path))
    assert response.status_code == 200 and response.json["version"] == 2
    assert response.json["counts"]["persons"] == 8


def test_forged_foreign_older_and_garbage_bundles_change_nothing(community, client, gate_token, tmp_path):
    good = bundle_from(community, tmp_path)
    before = registry_state(community)
    forger = Ed25519PrivateKey.generate()
    forged = registry.build_bundle(forger, site_id="jinan", version=99, issued=NOW, tables={}, settings={},
                                   trusted_keys=[public_key_text(forger.public_key())])
    envelope = json.loads(good)
    envelope["signature"] = json.loads(forged)["signature"]
    cases = [(forged, 422, "unknown_key"), (json.dumps(envelope).encode(), 422, "bad_signature"),
             (bundle_from(community, tmp_path, site="longhai"), 422, "wrong_site"),
             (b"not a bundle", 400, "malformed")]
    for data, status, code in cases:
        response = client.put("/api/v1/registry", headers=auth(gate_token), data=data)
        assert (response.status_code, response.json["error"]) == (status, code)
        assert registry_state(community) == before
    assert client.put("/api/v1/registry", headers=auth(gate_token), data=good).status_code == 200
    older = client.put("/api/v1/registry", headers=auth(gate_token), data=good)
    assert (older.status_code, older.json["error"]) == (409, "not_newer")


def test_shift_logs_include_the_open_shift(community, client, gate_token):
    response = client.get("/api/v1/shifts?since=2026-11-28", headers=auth(gate_token))
    shifts = response.json["shifts"]
    assert [s["shift_id"] for s in shifts] == ["2026-11-28/night", "2026-11-28/morning", "2026-11-28/afternoon",
                                               "2026-11-29/night", "2026-11-29/morning"]
    assert [s["open"] for s in shifts] == [False] * 4 + [True]
    assert client.get("/api/v1/shifts?since=2024-01-01", headers=auth(gate_token)).status_code == 400
    assert client.get("/api/v1/shifts?since=soon", headers=auth(gate_token)).status_code == 400
