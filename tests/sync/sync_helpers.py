"""Helpers for sync tests: the office CLI, table contents (the gate server: tests/servers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiosk.gate.service import Gate
from kiosk.office.service import Office
from tests.servers import ROOT


def kiosk(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the kiosk CLI in its own process, as the systemd timer does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_LANG": "en"}  # assertions read the English texts
    return subprocess.run([sys.executable, "-m", "kiosk", "--home", str(home), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def gate_rows(gate_home: Path) -> list[tuple]:
    with Gate.open(gate_home) as gate:
        return gate.db.conn.execute("SELECT seq, id, hash FROM events ORDER BY seq").fetchall()


def office_rows(office_home: Path, name: str = "jinan-gate") -> list[tuple]:
    with Office.open(office_home) as office:
        return [tuple(row) for row in office.store.conn.execute(
            "SELECT seq, id, hash FROM gate_events WHERE gate = ? ORDER BY seq", [name]).fetchall()]
