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

import pytest

from tests.resilience.conftest import spawn

WATCHDOG_S = 12.0  # heartbeat every 6 s; a lane is stale after 4 s without a loop turn
PATIENCE_S = 180.0  # reached only on failure: the demo is created and frames rendered under load


class NotifySocket:
    """The test's end of $NOTIFY_SOCKET: messages in arrival order."""

    def __init__(self, path: str) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.server.bind(path)
        self.server.settimeout(PATIENCE_S)

    def next(self) -> str:
        return self.server.recv(4096).decode()

    def until(self, done, within: int) -> list[str]:
        """Messages up to the first after which ``done(messages)`` holds; fails after ``within`` messages."""
        got = []
        while not done(got):
            assert len(got) < within, got
            got.append(self.next())
        return got

    def close(self) -> None:
        self.server.close()


def beats(messages: list[str]) -> list[str]:
    return [m for m in messages if m.startswith("WATCHDOG=1")]


def stalls(messages: list[str]) -> list[str]:
    return [m for m in messages if m.startswith("STATUS=stalled: ")]


@pytest.mark.slow
def test_hung_frame_read_stops_the_heartbeat_while_the_process_lives(tmp_path):
    """Counted in the runner's own turns, not in seconds: load can slow it down but not fool it.

    The runner waits one interval (WatchdogSec/2) between turns, so three "stalled"
    turns in a row are a silence of at least WatchdogSec, however late they arrive.
    """
    path = str(tmp_path / "notify.sock")
    notify = NotifySocket(path)
    process = spawn("-m", "kiosk", "--lang", "en", "--home", str(tmp_path / "demo"), "run", "--simulate",
                    env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert notify.next() == "READY=1\nSTATUS=2 lanes running"
        decided = re.compile(r"out: ok, \d+ frames, [1-9]\d* scans; [^\x00-\x7f]")
        before = notify.until(lambda got: len(beats(got)) >= 2 and decided.search(beats(got)[-1]), within=100)
        # after decisions the STATUS line carries their Chinese messages: still sent (UTF-8)
        assert beats(before)[-1].startswith("WATCHDOG=1\nSTATUS=in: "), before[-1]
        process.send_signal(signal.SIGUSR1)
        notify.until(stalls, within=5)  # a beat or two while the lanes finish their last turns; then they are stale
        after = notify.until(lambda got: len(got) == 2, within=2)  # two more turns: WatchdogSec since the stall
        assert after == stalls(after)  # ... and not one heartbeat among them: systemd restarts the service
        assert process.poll() is None  # alive but stuck: exactly the case for the watchdog
    finally:
        process.kill()
        process.wait(60)
        notify.close()
