"""Run the lanes: one thread each, the guard buttons, the systemd watchdog, clean stop.

``kiosk run`` is a systemd ``Type=notify`` service with ``WatchdogSec=30``:
READY=1 is sent once every lane thread is running; WATCHDOG=1 is sent only
while every lane keeps completing loop turns (a frame read or a decision that
hangs stops the heartbeat, and systemd restarts the service). A camera that is
unplugged does NOT stop the heartbeat: its lane keeps turning, reports the
camera in lane_status and reopens it with backoff.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kiosk.gate.lane import Lane

__all__ = ["Runner", "SystemdNotifier", "install_stop_handlers"]

log = logging.getLogger(__name__)


class SystemdNotifier:
    """sd_notify(3) over $NOTIFY_SOCKET; does nothing without systemd.

    Sends UTF-8: the STATUS line holds the lanes' Chinese messages, and the sdnotify
    package encodes Latin-1 and silently drops what it cannot encode, which starved
    the watchdog after the first decision.
    """

    def __init__(self) -> None:
        self.socket = None
        address = os.environ.get("NOTIFY_SOCKET", "")
        if not address:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect("\0" + address[1:] if address.startswith("@") else address)
        except OSError as exc:
            sock.close()
            log.warning("cannot reach systemd's notify socket %s: %s", address, exc)
            return
        self.socket = sock

    def notify(self, state: str) -> None:
        if self.socket is not None:
            try:
                self.socket.sendall(state.encode("utf-8"))
            except OSError as exc:
                log.warning("sd_notify failed: %s", exc)


def _systemd_notifier() -> Any:
    return SystemdNotifier()


def watchdog_interval(default: float = 5.0) -> float:
    """Half of systemd's WatchdogSec (from $WATCHDOG_USEC), as sd_watchdog_enabled advises."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    return int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else default


class Runner:
    """Starts every lane on its own thread and keeps the watchdog fed while they turn.

    *notifier* has ``notify(text)`` (:class:`SystemdNotifier` by default;
    harmless without systemd). *stale_after_s*: a lane whose last loop turn is
    older than this stops the heartbeat.
    """

    def __init__(self, lanes: Iterable[Lane], notifier: Any = None,
                 stale_after_s: float | None = None, interval_s: float | None = None) -> None:
        self.lanes = list(lanes)
        self.notifier = notifier if notifier is not None else _systemd_notifier()
        self.interval_s = interval_s if interval_s is not None else watchdog_interval()
        # 10 s, or WatchdogSec/3 if shorter: stale + one interval (WatchdogSec/2) < WatchdogSec,
        # so a hung lane always costs a missed heartbeat
        self.stale_after_s = stale_after_s if stale_after_s is not None \
            else min(10.0, watchdog_interval(default=15.0) * 2 / 3)
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def healthy(self) -> bool:
        """Every lane completed a loop turn recently (and its thread is alive)."""
        now = time.monotonic()
        return all(thread.is_alive() for thread in self._threads) and \
            all(now - lane.beat < self.stale_after_s for lane in self.lanes)

    def status_line(self) -> str:
        parts = []
        for lane in self.lanes:
            parts.append(f"{lane.id}: {lane.status.camera or 'no camera'}, {lane.frames} frames, "
                         f"{len(lane.results)} scans; {lane.status.detail()}")
        return " | ".join(parts) or "no lanes configured"

    def start(self) -> None:
        """Start the lanes and the button handlers, then tell systemd we are ready."""
        buttons = set()
        for lane in self.lanes:
            button_owner = lane.signals
            if button_owner is not None and getattr(button_owner, "button", None) is not None \
                    and id(button_owner) not in buttons:  # a shared button belongs to the first lane
                buttons.add(id(button_owner))
                button_owner.on_button(lane.manual_open)
            thread = threading.Thread(target=lane.run, args=(self.stop_event,),
                                      name=f"lane-{lane.id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.notifier.notify(f"READY=1\nSTATUS={len(self.lanes)} lanes running")

    def feed_watchdog(self) -> bool:
        """Send WATCHDOG=1 (with a STATUS line) if the lanes are turning; True if sent."""
        if not self.healthy():
            log.error("watchdog not fed: a lane stopped turning (%s)", self.status_line())
            self.notifier.notify(f"STATUS=stalled: {self.status_line()}")
            return False
        self.notifier.notify(f"WATCHDOG=1\nSTATUS={self.status_line()}")
        return True

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Start, feed the watchdog until stopped (or *until()* is true), then stop."""
        pause = self.interval_s if until is None else min(self.interval_s, 0.2)  # until() is polled
        try:
            self.start()  # inside: lanes started before a failure are still stopped and closed
            while not self.stop_event.is_set():
                self.feed_watchdog()
                if until is not None and until():
                    break
                self.stop_event.wait(pause)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the lanes, wait for their threads, release every device once."""
        self.stop_event.set()
        self.notifier.notify("STOPPING=1")
        for thread in self._threads:
            thread.join(timeout=10)
        closed = set()
        for lane in self.lanes:
            if lane.signals is not None and id(lane.signals) not in closed:
                closed.add(id(lane.signals))
                lane.signals.close()
            lane.close()
        sock = getattr(self.notifier, "socket", None)  # the notifier keeps a datagram socket open
        if sock is not None:
            sock.close()


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM (systemctl stop) and SIGINT (Ctrl-C) end the loop cleanly."""
    def handler(signum: int, frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
