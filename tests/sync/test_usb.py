"""USB fallback: `kiosk export` on the gate, `kiosk office import-events` at the office."""

from __future__ import annotations

import json

import pytest
from sync_helpers import gate_rows, kiosk, office_rows

from bench.sync import fill_events
from kiosk.gate import sync_feed
from kiosk.gate.service import Gate
from kiosk.office import pull
from kiosk.office.service import Office
from tests.conftest import NOW, STORES

pytestmark = pytest.mark.parametrize("office_store", STORES, indirect=True)  # each test on both office stores


def fill(home, count):
    with Gate.open(home) as gate:
        return fill_events(gate.db, count, NOW, gate.gate_id, gate.site_id)


def export(community, tmp_path, since=0, name="x.events"):
    out = tmp_path / name
    result = kiosk(community.gate_home, "export", "--since", str(since), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def import_events(community, path):
    return kiosk(community.office_home, "office", "import-events", str(path))


def gate_export_key(community) -> str:
    return kiosk(community.gate_home, "export-key").stdout.strip()


def add_usb_gate(community, export_key=None):
    """The gate added by hand with its export key (pinned: no file is trusted on first use)."""
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", "", "", export_key or gate_export_key(community))


def test_export_import_is_exactly_once(community, office_store, tmp_path):
    add_usb_gate(community)
    fill(community.gate_home, 300)
    first = export(community, tmp_path, name="a.events")
    result = import_events(community, first)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "jinan-gate: 300 new events, 0 already held, holding up to seq 300\n"
    pull = kiosk(community.office_home, "office", "pull")  # a gate without a URL is left out
    assert (pull.returncode, pull.stderr) == (0, "")
    again = import_events(community, first)
    assert again.stdout == "jinan-gate: 0 new events, 300 already held, holding up to seq 300\n"
    assert again.stderr == ""
    fill(community.gate_home, 50)
    overlapping = export(community, tmp_path, since=250, name="b.events")
    assert import_events(community, overlapping).stdout == \
        "jinan-gate: 50 new events, 50 already held, holding up to seq 350\n"
    assert office_rows(community.office_home) == gate_rows(community.gate_home)


def test_a_file_that_does_not_continue_the_chain_is_refused_and_changes_nothing(community, office_store, tmp_path):
    add_usb_gate(community)
    fill(community.gate_home, 100)
    late = export(community, tmp_path, since=60)
    result = import_events(community, late)
    assert result.returncode == 1
    assert "expected seq 1, got 61: events missing" in result.stderr
    assert office_rows(community.office_home) == []


def test_an_altered_file_or_a_foreign_key_is_refused(community, office_store, tmp_path):
    add_usb_gate(community)
    fill(community.gate_home, 20)
    path = export(community, tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    row = json.loads(lines[5])
    row["subject_id"] = "R999"
    altered = tmp_path / "altered.events"
    altered.write_bytes(b"".join(lines[:5] + [(json.dumps(row, ensure_ascii=False) + "\n").encode()] + lines[6:]))
    result = import_events(community, altered)
    assert result.returncode == 1 and "[bad_signature]" in result.stderr
    assert import_events(community, path).returncode == 0  # the genuine file, signed by the pinned key
    with Gate.open(community.gate_home) as gate:  # a new gate key (e.g. a swapped SD card)
        (gate.config.keys_dir / "gate-export.key").unlink()
    fill(community.gate_home, 5)
    other = export(community, tmp_path, since=20, name="other.events")
    refused = import_events(community, other)
    assert refused.returncode == 1 and "[unknown_key]" in refused.stderr
    assert len(office_rows(community.office_home)) == 20


def test_a_registered_export_key_is_enforced_from_the_first_file(community, office_store, tmp_path):
    key = gate_export_key(community)
    assert key.startswith("ed25519:")
    add_usb_gate(community, export_key=key)
    fill(community.gate_home, 3)
    result = import_events(community, export(community, tmp_path))
    assert result.returncode == 0 and result.stderr == ""


def test_pulls_and_imports_mix_without_duplicates(community, office_with_gate, tmp_path):
    fill(community.gate_home, 40)
    assert kiosk(office_with_gate, "office", "pull").returncode == 0
    fill(community.gate_home, 10)
    result = import_events(community, export(community, tmp_path))
    assert result.stdout == "jinan-gate: 10 new events, 40 already held, holding up to seq 50\n"
    fill(community.gate_home, 5)
    assert kiosk(office_with_gate, "office", "pull").returncode == 0
    assert office_rows(office_with_gate) == gate_rows(community.gate_home)


def test_export_refuses_what_was_pruned(community, office_store, tmp_path):
    fill(community.gate_home, 10)
    with Gate.open(community.gate_home) as gate:
        head = gate.db.conn.execute("SELECT hash FROM events WHERE seq = 4").fetchone()[0]
        sync_feed.acknowledge(gate.db, 4, head, NOW.replace(year=2030), retention_days=1)
    result = kiosk(community.gate_home, "export", "--since", "0", "--out", str(tmp_path / "x"))
    assert result.returncode == 1 and "[pruned] events before seq 5 were pruned" in result.stderr
    assert not (tmp_path / "x").exists()
