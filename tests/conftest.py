"""Shared fixtures: the one demo community (office + gate) on real SQLite files.

``community`` is a fresh copy (in tmp_path) of kiosk.sim.demo.create_demo made once per
session at ``demo_time``: NOW (2026-11-29 10:00 Asia/Shanghai, morning shift), except
where a folder's conftest overrides ``demo_time`` with SESSION_START because the code
under test reads the system clock (the scan loop). ``clock`` is a FixedClock at NOW;
``gate`` and ``office`` open the two homes; ``mint`` signs tokens with custom fields;
``republish`` carries office edits to the gate through a real signed bundle.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.core import passes
from kiosk.core.clock import FixedClock
from kiosk.gate.service import Gate
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.sim.demo import SITE, create_demo
from kiosk.store import registry

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)
SESSION_START = datetime.now(timezone.utc)  # the real clock, for code that reads the system clock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """``demo_template(when)``: the folder of a demo community created at ``when``, made once."""
    made = {}

    def template(when: datetime):
        if when not in made:
            made[when] = create_demo(tmp_path_factory.mktemp("demo-template") / "demo", when).root
        return made[when]

    return template


@pytest.fixture
def demo_time() -> datetime:
    """When the demo community was created (its passes, ledger and bundle are dated then)."""
    return NOW


@pytest.fixture
def community(demo_template, demo_time, tmp_path):
    """A fresh copy of the demo community for each test (copying is 100 times faster than creating)."""
    return create_demo(shutil.copytree(demo_template(demo_time), tmp_path / "demo"), demo_time)


@pytest.fixture
def gate(community, clock):
    with Gate.open(community.gate_home, clock=clock) as opened:
        yield opened


@pytest.fixture
def office(community):
    with Office.open(community.office_home) as opened:
        yield opened


@pytest.fixture
def other_key() -> Ed25519PrivateKey:
    """A key no gate trusts."""
    return Ed25519PrivateKey.generate()


@pytest.fixture
def mint(office):
    """mint(**fields) -> token signed by the office key (or ``key=``), valid around NOW."""

    def _mint(key: Ed25519PrivateKey | None = None, **fields) -> str:
        claims = {"pass_id": "PTEST000001", "subject_kind": "resident", "subject_id": "R001",
                  "site_id": SITE, "valid_from": NOW - timedelta(days=1),
                  "valid_until": NOW + timedelta(days=30), **fields}
        return passes.mint(key or office.signing_key(), **claims)

    return _mint


@pytest.fixture
def republish(community, office, gate, tmp_path):
    """Write the office's next bundle and load it into the gate; returns the BundleInfo."""

    def _republish():
        _, path = office_mod.write_bundle(office, SITE, gate.now(), tmp_path / "next.bundle")
        return registry.load_bundle_file(gate.db, path, SITE, gate.now())

    return _republish


# --- the office store: SQLite, or PostgreSQL on a throw-away cluster (bench/postgres_cluster.py) ---

STORES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster for the whole run, started only when a test asks for it."""
    from bench.postgres_cluster import PostgresCluster

    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def office_store(request, community) -> str:
    """The store of the demo community's office: ``sqlite`` unless a test is parametrised with
    ``@pytest.mark.parametrize("office_store", STORES, indirect=True)``; ``postgresql`` points
    the office at a fresh database of the session's cluster."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgresql":
        from tests.postgres_server import use_database

        use_database(community.office_home, request.getfixturevalue("postgres").new_database())
    return kind
