"""Signed registry bundles: loading, every refusal, and that a refusal changes nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core.signing import key_id, public_key_text
from kiosk.office import service as office_mod
from kiosk.store import registry
from kiosk.store.registry import BundleError
from tests.conftest import NOW

STATE_TABLES = registry.REGISTRY_TABLES + ("registry_meta", "trusted_keys")


def state(gate) -> dict:
    return {table: list(gate.db.query(f"SELECT * FROM {table} ORDER BY 1")) for table in STATE_TABLES}


def bundle(key, *, version=2, site_id="jinan", tables=None, settings=None, keys=None) -> bytes:
    return registry.build_bundle(key, site_id=site_id, version=version, issued=NOW, tables=tables or {},
                                 settings=settings or {}, trusted_keys=keys or [public_key_text(key.public_key())])


@pytest.fixture
def snapshot(office):
    return registry.registry_snapshot(office.db, "jinan")


def refused(gate, data: bytes) -> str:
    before = state(gate)
    with pytest.raises(BundleError) as caught:
        registry.load_bundle(gate.db, data, "jinan", NOW + timedelta(hours=1))
    assert state(gate) == before
    return caught.value.code


def test_demo_bundle_was_loaded(gate, office):
    meta = registry.meta(gate.db)
    assert (meta["version"], meta["site_id"], meta["key_id"]) == ("1", "jinan", key_id(office.signing_key().public_key()))
    assert gate.db["persons"].count == 8 and gate.db["passes"].count == 8 and gate.db["vehicles"].count == 2


def test_next_bundle_applies_and_replaces(gate, office, snapshot):
    snapshot["persons"] = [p for p in snapshot["persons"] if p["id"] != "R008"]
    snapshot["health"] = [h for h in snapshot["health"] if h["person_id"] != "R008"]
    info = registry.load_bundle(gate.db, bundle(office.signing_key(), version=2, tables=snapshot,
                                                settings={"rules": {"fever_threshold": 37.5}}),
                                "jinan", NOW + timedelta(hours=1))
    assert (info.version, info.counts["persons"], info.counts["passes"]) == (2, 7, 8)
    assert gate.db["persons"].count_where("id = 'R008'") == 0
    meta = registry.meta(gate.db)
    assert (meta["version"], meta["loaded_utc"]) == ("2", "2026-11-29T03:00:00.000Z")
    assert gate.rules().fever_threshold == 37.5


def test_office_bundle_file_through_write_bundle(gate, office, republish):
    assert republish().version == 2
    assert registry.current_version(gate.db) == 2


@pytest.mark.parametrize("version", [1, 0, -5])
def test_same_or_older_version_is_refused(gate, office, snapshot, version):
    assert refused(gate, bundle(office.signing_key(), version=version, tables=snapshot)) == "not_newer"


def test_reloading_the_same_file_is_refused(gate, community):
    assert refused(gate, (community.root / "registry.bundle").read_bytes()) == "not_newer"


def test_bundle_for_another_site_is_refused(gate, office, snapshot):
    assert refused(gate, bundle(office.signing_key(), version=9, site_id="longhai", tables=snapshot)) == "wrong_site"


def test_bundle_of_an_untrusted_key_is_refused(gate, snapshot):
    assert refused(gate, bundle(Ed25519PrivateKey.generate(), version=9, tables=snapshot)) == "unknown_key"


@pytest.mark.parametrize("index", [0, 10, -1])
def test_bundle_with_a_flipped_payload_byte_is_refused(gate, office, snapshot, index):
    envelope = json.loads(bundle(office.signing_key(), version=9, tables=snapshot))
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[index] ^= 0x01
    envelope["payload"] = base64.b64encode(payload).decode()
    assert refused(gate, json.dumps(envelope).encode()) == "bad_signature"


def test_bundle_with_a_swapped_signature_is_refused(gate, office, snapshot):
    good = json.loads(bundle(office.signing_key(), version=9, tables=snapshot))
    other = json.loads(bundle(office.signing_key(), version=10, tables=snapshot))
    good["signature"] = other["signature"]
    assert refused(gate, json.dumps(good).encode()) == "bad_signature"


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", b"{}", b'{"format": "kiosk-registry/1"}',
    b'{"format": "kiosk-registry/1", "key_id": "x", "payload": "***", "signature": ""}',
    b'{"format": "other/9", "key_id": "x", "payload": "", "signature": ""}',
    "\ufeff{}".encode(), b"\xff\xfe\x00",
])
def test_malformed_bundles_are_refused(gate, data):
    assert refused(gate, data) == "malformed"


def test_signed_but_unreadable_payload_is_malformed(gate, office):
    key = office.signing_key()
    body = b"this is not gzip"
    envelope = {"format": registry.BUNDLE_FORMAT, "key_id": key_id(key.public_key()),
                "payload": base64.b64encode(body).decode(), "signature": base64.b64encode(key.sign(body)).decode()}
    assert refused(gate, json.dumps(envelope).encode()) == "malformed"


@pytest.mark.parametrize("settings", [
    {"rules": {"severity": {"fever": "sometimes"}}},
    {"rules": {"severity": {"expired": "off"}}},
    {"rules": {"severity": {"no_such_code": "deny"}}},
    {"rules": {"fever_threshold": "hot"}},
    {"rules": "deny everything"},
])
def test_bundle_with_invalid_rule_settings_is_refused(gate, office, snapshot, settings):
    assert refused(gate, bundle(office.signing_key(), version=9, tables=snapshot, settings=settings)) == "malformed"
    assert gate.rules().fever_threshold == 37.3  # the gate keeps deciding with its loaded settings


@pytest.mark.parametrize("table, bad_row", [
    ("risk_areas", {"code": "610102", "name": "新城区", "level": "extreme"}),  # CHECK constraint, last table
    ("health", {"person_id": "R001", "status": "sick"}),
    ("persons", {"id": "R100", "name": "x", "household_id": "jinan:1-1-101", "colour": "red"}),
])
def test_bundle_rows_the_database_refuses_leave_everything_as_it_was(gate, office, snapshot, table, bad_row):
    snapshot[table] = snapshot[table] + [bad_row]
    assert refused(gate, bundle(office.signing_key(), version=9, tables=snapshot)) == "malformed"


def test_a_bundle_repeating_a_key_or_without_one_is_refused(gate, office, snapshot):
    repeated = {**snapshot, "persons": snapshot["persons"] + [{**snapshot["persons"][0], "name": "另一个"}]}
    assert refused(gate, bundle(office.signing_key(), version=9, tables=repeated)) == "malformed"
    keyless = {**snapshot, "risk_areas": snapshot["risk_areas"] + [{"name": "无代码", "level": "low"}]}
    assert refused(gate, bundle(office.signing_key(), version=9, tables=keyless)) == "malformed"


def test_a_new_version_leaves_exactly_the_bundles_rows(gate, office, snapshot):
    """Removed, moved, changed and new rows across the foreign keys (staging, then the swap)."""
    tables = {table: [dict(row) for row in rows] for table, rows in snapshot.items()}
    gone = tables["persons"].pop()["id"]  # removed, with its health row and pass
    tables["health"] = [row for row in tables["health"] if row["person_id"] != gone]
    tables["passes"] = [row for row in tables["passes"] if row["subject_id"] != gone]
    old_home = tables["persons"][0]["household_id"]
    tables["households"].append({"id": "jinan:9-9-909", "site_id": "jinan", "building": "9", "unit": "9",
                                 "room": "909"})
    for person in tables["persons"]:  # everyone of the first household moves: it is removed
        if person["household_id"] == old_home:
            person["household_id"] = "jinan:9-9-909"
    tables["households"] = [row for row in tables["households"] if row["id"] != old_home]
    tables["vehicles"] = [dict(row, household_id="jinan:9-9-909") if row["household_id"] == old_home else row
                          for row in tables["vehicles"]]
    tables["passes"][0]["status"], tables["passes"][0]["reason"] = "blocked", "lost"
    tables["visitors"] = [{"id": "V1", "name": "访客", "phone": None, "household_id": "jinan:9-9-909",
                           "purpose": "探亲", "issued_by": "office"}]
    registry.load_bundle(gate.db, bundle(office.signing_key(), version=9, tables=tables), "jinan", NOW)
    for table in registry.REGISTRY_TABLES:
        key = "plate" if table == "vehicles" else "person_id" if table == "health" else \
            "code" if table == "risk_areas" else "id"
        loaded = [dict(row) for row in gate.db.query(f"SELECT * FROM {table} ORDER BY {key}")]
        assert loaded == sorted(tables[table], key=lambda row: row[key]), table
    assert registry.current_version(gate.db) == 9


def test_key_rotation_through_bundles(gate, office, snapshot):
    old, new = office.signing_key(), Ed25519PrivateKey.generate()
    both = [public_key_text(old.public_key()), public_key_text(new.public_key())]
    registry.load_bundle(gate.db, bundle(old, version=2, tables=snapshot, keys=both), "jinan", NOW)
    assert set(registry.trusted_keys(gate.db)) == {key_id(old.public_key()), key_id(new.public_key())}
    info = registry.load_bundle(gate.db, bundle(new, version=3, tables=snapshot), "jinan", NOW)
    assert (info.version, info.key_id) == (3, key_id(new.public_key()))


def test_unreadable_bundle_file(gate, tmp_path):
    with pytest.raises(BundleError) as caught:
        registry.load_bundle_file(gate.db, tmp_path / "missing.bundle", "jinan", NOW)
    assert caught.value.code == "unreadable"


def test_revocation_reaches_the_gate_only_with_a_bundle(gate, community, office, republish):
    office_mod.set_pass_status(office, community.pass_ids["resident"], "revoked", "moved out")
    assert registry.get_pass(gate.db, community.pass_ids["resident"])["status"] == "active"
    republish()
    assert registry.get_pass(gate.db, community.pass_ids["resident"])["status"] == "revoked"
