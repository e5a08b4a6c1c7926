"""The OpenAPI description matches the real server (schemathesis, bounded and deterministic)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bench.sync import fill_events
from kiosk.gate.service import Gate
from tests.conftest import NOW
from tests.waiting import PATIENCE_S
from web.api import OPENAPI

schema = schemathesis.openapi.from_dict(OPENAPI)
schema.config.generation.update(max_examples=30, deterministic=True)


@pytest.fixture
def live_api(community, server, gate_token):
    with Gate.open(community.gate_home) as gate:
        fill_events(gate.db, 30, NOW, gate.gate_id, gate.site_id)
    return server.url + "/api/v1", {"Authorization": f"Bearer {gate_token}"}


def test_the_served_description_is_the_one_tested(live_api):
    base, _ = live_api
    assert requests.get(base + "/openapi.json", timeout=PATIENCE_S).json() == OPENAPI


@pytest.mark.single_process  # one test id for every API operation: pytest-xdist would run only one
@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_api_conforms_to_its_openapi_description(case, live_api):
    base, headers = live_api
    # A schema-valid seq/hash or bundle is still refused on its content (unknown event, bad
    # signature): no schema can express that, so "valid data must be accepted" does not apply.
    response = case.call_and_validate(base_url=base, headers=headers, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500
