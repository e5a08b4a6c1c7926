"""Helpers for sync tests: a real gate server process, the office CLI, table contents."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from kiosk.gate import Gate
from kiosk.office import Office

NOW = datetime(2026, 11, 29, 2, 30, tzinfo=timezone.utc)  # 10:30 in Shanghai, morning shift
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GateServer:
    """The gate's web application in its own process, on a loopback port."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home, self.log, self.port, self.process = home, log, free_port(), None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "GateServer":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "kiosk", "--home", str(self.home), "serve",
                                             "--port", str(self.port)],
                                            cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"gate server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def kiosk(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the kiosk CLI in its own process, as the systemd timer does."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kiosk", "--home", str(home), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def gate_rows(gate_home: Path) -> list[tuple]:
    with Gate.open(gate_home) as gate:
        return gate.db.conn.execute("SELECT seq, id, hash FROM events ORDER BY seq").fetchall()


def office_rows(office_home: Path, name: str = "jinan-gate") -> list[tuple]:
    with Office.open(office_home) as office:
        return office.db.conn.execute("SELECT seq, id, hash FROM gate_events WHERE gate = ? ORDER BY seq",
                                      [name]).fetchall()
