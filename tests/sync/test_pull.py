"""A real gate server process and the office client in another process."""

from __future__ import annotations

import random
import time

import pytest

from bench.sync import fill_events
from kiosk.gate import Gate

from sync_helpers import NOW, gate_rows, kiosk, office_rows


def fill(home, count):
    with Gate.open(home) as gate:
        return fill_events(gate.db, count, NOW, gate.gate_id, gate.site_id)


@pytest.mark.slow
def test_pull_of_100000_events_equals_the_gate_log(community, office_with_gate):
    fill(community.gate_home, 100_000)
    result = kiosk(office_with_gate, "office", "pull")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""  # quiet when not on a terminal
    expected = gate_rows(community.gate_home)
    assert len(expected) == 100_000
    assert office_rows(office_with_gate) == expected
    again = kiosk(office_with_gate, "office", "pull", "--verbose")
    assert again.returncode == 0
    assert "0 new events, holding up to seq 100000" in again.stdout
    assert office_rows(office_with_gate) == expected
