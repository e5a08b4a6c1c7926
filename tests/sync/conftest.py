"""Fixtures for sync tests: the demo office and gate (tests/conftest.py), a real gate server process."""

from __future__ import annotations

import pytest

from kiosk.gate.service import Gate
from kiosk.office import pinning, pull
from kiosk.office.service import Office
from kiosk.store import tokens
from tests.conftest import NOW
from tests.servers import KioskServer


@pytest.fixture
def gate_token(community) -> str:
    with Gate.open(community.gate_home) as gate:
        return tokens.create_token(gate.db, "office", "office", NOW)[1]


@pytest.fixture
def server(community, tmp_path):
    gate_server = KioskServer(community.gate_home, tmp_path / "gate-server.log").start()
    yield gate_server
    gate_server.stop()


@pytest.fixture
def office_with_gate(community, office_store, server, gate_token):
    """The office knows the gate as on the LAN: its HTTPS address, its certificate pinned (its
    store: ``office_store``, SQLite unless the test asks for both)."""
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", server.tls_url, gate_token)
        pinning.pin(office, "jinan-gate", server.fingerprint)
    return community.office_home
