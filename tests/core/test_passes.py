"""Pass tokens: round trip, tampering, keys and rotation, validity, QR size, never raising."""

from __future__ import annotations

from datetime import timedelta

import base45
import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import passes
from kiosk.core.signing import key_id
from tests.conftest import NOW

QR_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CODES = {"unreadable", "bad_signature", "unknown_key", "wrong_site", "not_yet_valid", "expired", None}


def trusted(*keys: Ed25519PrivateKey) -> dict:
    return {key_id(k.public_key()): k.public_key() for k in keys}


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def token(key) -> str:
    return passes.mint(key, pass_id="PA1B2C3D4E5", subject_kind="resident", subject_id="R001",
                       site_id="jinan", valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=30))


def test_round_trip_gives_back_every_claim(key, token):
    result = passes.check(token, trusted(key), "jinan", NOW)
    assert result.code is None
    assert result.claims == passes.PassClaims(
        pass_id="PA1B2C3D4E5", subject_kind="resident", subject_id="R001", site_id="jinan",
        valid_from=(NOW - timedelta(days=1)).astimezone(result.claims.valid_from.tzinfo),
        valid_until=(NOW + timedelta(days=30)).astimezone(result.claims.valid_until.tzinfo),
        key_id=key_id(key.public_key()))


def test_token_is_prefixed_qr_alphanumeric_text_without_personal_data(token):
    assert token.startswith("GP1:")
    assert set(token) <= set(QR_ALPHANUMERIC)
    raw = base45.b45decode(token[4:])
    assert b"R001" in raw and "张".encode() not in raw  # ids only, never a name


def test_every_single_character_change_is_refused(key, token):
    keys = trusted(key)
    accepted = []
    for position, original in enumerate(token):
        for replacement in QR_ALPHANUMERIC:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1:]
            if passes.check(altered, keys, "jinan", NOW).code is None:
                accepted.append(altered)
    assert accepted == []


def test_truncated_and_extended_tokens_are_unreadable_or_refused(key, token):
    keys = trusted(key)
    for end in range(len(token)):
        assert passes.check(token[:end], keys, "jinan", NOW).code is not None
    assert passes.check(token + "0", keys, "jinan", NOW).code is not None
    assert passes.check(token + "00", keys, "jinan", NOW).code is not None


def test_token_of_an_unknown_key_is_refused_with_its_claims(key, token):
    stranger = Ed25519PrivateKey.generate()
    result = passes.check(token, trusted(stranger), "jinan", NOW)
    assert result.code == "unknown_key"
    assert result.claims.key_id == key_id(key.public_key())


def test_known_key_id_with_a_foreign_signature_is_bad_signature(key, token):
    body, _, _ = passes.parse(token)
    forged = "GP1:" + base45.b45encode(body + Ed25519PrivateKey.generate().sign(body)).decode()
    assert passes.check(forged, trusted(key), "jinan", NOW).code == "bad_signature"


def test_rotation_two_trusted_keys_each_verify_their_own_tokens(key, token):
    new_key = Ed25519PrivateKey.generate()
    new_token = passes.mint(new_key, pass_id="PNEW", subject_kind="vehicle", subject_id="陕H12345",
                            site_id="jinan", valid_from=NOW, valid_until=NOW + timedelta(days=1))
    keys = trusted(key, new_key)
    assert passes.check(token, keys, "jinan", NOW).code is None
    new = passes.check(new_token, keys, "jinan", NOW)
    assert (new.code, new.claims.key_id, new.claims.subject_id) == (None, key_id(new_key.public_key()), "陕H12345")
    # retiring the old key refuses its tokens
    assert passes.check(token, trusted(new_key), "jinan", NOW).code == "unknown_key"


def test_wrong_site(key, token):
    assert passes.check(token, trusted(key), "longhai", NOW).code == "wrong_site"


def test_validity_boundaries(key):
    start, end = NOW, NOW + timedelta(hours=1)
    token = passes.mint(key, pass_id="P1", subject_kind="staff", subject_id="S1", site_id="jinan",
                        valid_from=start, valid_until=end)
    keys = trusted(key)
    assert passes.check(token, keys, "jinan", start - timedelta(milliseconds=1)).code == "not_yet_valid"
    assert passes.check(token, keys, "jinan", start).code is None
    assert passes.check(token, keys, "jinan", end - timedelta(milliseconds=1)).code is None
    assert passes.check(token, keys, "jinan", end).code == "expired"


WORST_CASES = [  # 35 bytes of ids in all, the most a QR version 7-M holds
    ("P" + "F" * 10, "鲁" * 4, "longhai-jiay"),  # issued pass id, Chinese id (12 bytes), site
    ("X" * 20, "陕H12345", "Z" * 6),            # longest single field with a plate (9 bytes)
    ("P1", "R" * 20, "Z" * 13),
]


@pytest.mark.parametrize("kind", passes.SUBJECT_KINDS)
@pytest.mark.parametrize("pass_id, subject_id, site_id", WORST_CASES)
def test_worst_case_token_fits_qr_version_7_m(key, kind, pass_id, subject_id, site_id):
    token = passes.mint(key, pass_id=pass_id, subject_kind=kind, subject_id=subject_id, site_id=site_id,
                        valid_from=NOW, valid_until=NOW + timedelta(days=3650))
    qr = segno.make(token, error="m", boost_error=False, micro=False)
    assert (qr.version <= 7, qr.mode, qr.error) == (True, "alphanumeric", "M")
    assert len(token) == passes.MAX_QR_CHARS
    assert passes.check(token, trusted(key), site_id, NOW).code is None


def test_ids_longer_than_a_version_7_qr_are_refused_at_minting(key):
    with pytest.raises(passes.PassFormatError, match="QR version 7-M"):
        passes.mint(key, pass_id="X" * 20, subject_kind="resident", subject_id="R" * 20, site_id="jinan",
                    valid_from=NOW, valid_until=NOW + timedelta(days=1))


@pytest.mark.parametrize("fields, problem", [
    ({"pass_id": "X" * 21}, "1..20 bytes"),
    ({"subject_id": ""}, "1..20 bytes"),
    ({"subject_id": "鲁" * 7}, "1..20 bytes"),
    ({"subject_kind": "pet"}, "subject kind"),
    ({"valid_until": NOW}, "after valid_from"),
    ({"valid_from": NOW.replace(tzinfo=None), "valid_until": NOW.replace(tzinfo=None) + timedelta(days=1)},
     "timezone-aware"),
    ({"valid_until": NOW.replace(year=2107)}, "between 1970 and 2106"),
])
def test_mint_refuses_bad_fields(key, fields, problem):
    claims = {"pass_id": "P1", "subject_kind": "resident", "subject_id": "R1", "site_id": "jinan",
              "valid_from": NOW, "valid_until": NOW + timedelta(days=1), **fields}
    with pytest.raises(passes.PassFormatError, match=problem):
        passes.mint(key, **claims)


@pytest.mark.parametrize("text", ["", "GP1:", "GP1", "gp1:ABC", "GP1:" + "0" * 401, "GP1:::::", "GP2:ABCD",
                                  "GP1:" + "Ω" * 30, "GP1:\x00\x00\x00"])
def test_junk_is_unreadable(key, text):
    assert passes.check(text, trusted(key), "jinan", NOW) == passes.PassCheck("unreadable")


def test_non_string_input_is_unreadable(key):
    for value in (None, b"GP1:ABC", 12345):
        assert passes.check(value, trusted(key), "jinan", NOW).code == "unreadable"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=450))
def test_check_never_raises_on_any_text(key, text):
    assert passes.check(text, trusted(key), "jinan", NOW).code in CODES


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(min_size=0, max_size=200))
def test_check_never_raises_on_any_prefixed_base45_payload(key, raw):
    result = passes.check("GP1:" + base45.b45encode(raw).decode(), trusted(key), "jinan", NOW)
    assert result.code in CODES - {None}


@settings(max_examples=300, deadline=None)
@given(tail=st.text(alphabet=QR_ALPHANUMERIC + "abcxyz\x00é中", max_size=300))
def test_check_never_raises_on_prefixed_alphanumeric_text(key, tail):
    assert passes.check("GP1:" + tail, trusted(key), "jinan", NOW).code in CODES - {None}
