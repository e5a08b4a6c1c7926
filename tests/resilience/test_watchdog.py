"""The watchdog: ``kiosk run --simulate`` under a stand-in for systemd's notify socket.

The test owns a unix datagram socket ($NOTIFY_SOCKET) and sets $WATCHDOG_USEC as
systemd does; after READY=1 and heartbeats, SIGUSR1 wedges the simulated cameras
(a frame read that never returns). systemd kills a service that sends no
WATCHDOG=1 for WatchdogSec: the test sees exactly that silence, with the process alive.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time

import pytest

from tests.resilience.conftest import spawn

WATCHDOG_S = 6.0


def receive(server: socket.socket, until: float) -> list[tuple[float, str]]:
    """Messages (arrival time, text) until the monotonic deadline."""
    got = []
    while (left := until - time.monotonic()) > 0:
        server.settimeout(left)
        try:
            got.append((time.monotonic(), server.recv(4096).decode()))
        except TimeoutError:
            break
    return got


@pytest.mark.slow
def test_hung_frame_read_stops_the_heartbeat_while_the_process_lives(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    process = spawn("-m", "kiosk", "--lang", "en", "--home", str(tmp_path / "demo"), "run", "--simulate",
                    env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server.settimeout(60)  # creating the demo community and rendering frames
        assert server.recv(4096).decode() == "READY=1\nSTATUS=2 lanes running"
        before = receive(server, time.monotonic() + WATCHDOG_S)
        beats = [m for _, m in before if m.startswith("WATCHDOG=1\nSTATUS=in: ")]
        assert len(beats) >= 2  # every WatchdogSec/2
        # after decisions the STATUS line carries their Chinese messages: still sent (UTF-8)
        assert re.search(r"out: ok, \d+ frames, [1-9]\d* scans; [^\x00-\x7f]", beats[-1]), beats[-1]
        process.send_signal(signal.SIGUSR1)
        hung_at = time.monotonic()
        after = receive(server, hung_at + 2.5 * WATCHDOG_S)
        heartbeats = [at for at, m in after if m.startswith("WATCHDOG=1")]
        last = max(heartbeats, default=hung_at)
        assert last - hung_at < WATCHDOG_S  # heartbeats stopped within WatchdogSec ...
        assert hung_at + 2.5 * WATCHDOG_S - last > WATCHDOG_S  # ... and stayed away: systemd restarts
        assert any(m.startswith("STATUS=stalled: ") for _, m in after)
        assert process.poll() is None  # alive but stuck: exactly the case for the watchdog
    finally:
        process.kill()
        process.wait(10)
        server.close()
