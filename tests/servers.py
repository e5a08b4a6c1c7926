"""``kiosk serve`` in its own process on free ports: real waitress on loopback HTTP, real cheroot on HTTPS.

One helper for every test that needs the gate's web process (sync, browser, security,
resilience): start it, wait until it answers, kill it mid-request, restart it on the
same port, stop it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from kiosk.store import tls
from kiosk.store.config import load_config
from tests.waiting import PATIENCE_S

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class KioskServer:
    """``kiosk --home HOME serve --port PORT [ARGS]``; output to ``log`` (appended) or nowhere.

    The port stays the same across restarts, so an office's URL keeps working.
    """

    def __init__(self, home: Path, log: Path | None = None, port: int | None = None, args: tuple[str, ...] = (),
                 tls_host: str = "127.0.0.1") -> None:
        self.home, self.log, self.port, self.args = home, log, port or free_port(), args
        self.tls_host, self.tls_port = tls_host, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The HTTPS listener (the LAN's way in); its certificate: :attr:`fingerprint`."""
        return f"https://{self.tls_host}:{self.tls_port}"

    @property
    def fingerprint(self) -> str:
        return tls.fingerprint(load_config(self.home))

    def start(self) -> "KioskServer":
        command = [sys.executable, "-m", "kiosk", "--home", str(self.home), "serve", "--port", str(self.port),
                   "--tls-host", self.tls_host, "--tls-port", str(self.tls_port), *self.args]
        with self.log.open("ab") if self.log else open("/dev/null", "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)
        deadline = time.monotonic() + PATIENCE_S  # a busy machine may take long to start Python
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/health", timeout=10).ok:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"kiosk serve did not start: {self.log.read_text() if self.log else ''}")

    def kill(self) -> None:
        """SIGKILL: the process dies mid-request, as on a power cut."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(PATIENCE_S)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(PATIENCE_S)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "KioskServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
