"""The gate never holds the office's pass-signing key."""

import shutil

import pytest

from kiosk.gate.service import Gate
from kiosk.store.config import ConfigError


def test_gate_opens_without_the_signing_key(community):
    with Gate.open(community.gate_home) as gate:
        assert gate.gate_id == "jinan-gate"


def test_gate_refuses_to_open_with_the_office_signing_key_in_its_folder(community):
    stolen = community.gate_home / "keys" / "office.key"
    stolen.parent.mkdir(mode=0o700, exist_ok=True)  # keys/ holds the gate's TLS and export keys already
    shutil.copy(community.office_home / "keys" / "signing.key", stolen)
    with pytest.raises(ConfigError, match="must never hold it"):
        Gate.open(community.gate_home)


def test_an_unrelated_private_key_is_not_mistaken_for_the_signing_key(community):
    assert (community.gate_home / "keys" / "gate-export.key").exists()  # made with the folder, as by `kiosk init`
    with Gate.open(community.gate_home) as gate:
        assert gate.site_id == "jinan"
