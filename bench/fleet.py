"""Many gates on one machine: gate folders filled with a valid chain, served over loopback HTTP.

Each gate is a real gate folder (its own gate.db and token) and a real waitress server on its
own port running the gate's own application, in this process. Used by bench.pool and by the
tests of concurrent pulls (tests/sync/test_pool.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import waitress

from bench.sync import fill_events
from kiosk.gate.service import Gate
from kiosk.store import tokens
from kiosk.store.config import create_home


@dataclass
class FleetGate:
    name: str
    home: Path
    token: str
    url: str = ""


def make_gate(folder: Path, name: str, site_id: str, events: int, start: datetime) -> FleetGate:
    """A gate folder (gate id = ``name``) whose log holds ``events`` events from ``start``, and an office token."""
    config = create_home(folder / name, {"role": "gate", "site_id": site_id, "gate_id": name})
    with Gate(config) as gate:
        if events:
            fill_events(gate.db, events, start, gate.gate_id, gate.site_id)
        secret = tokens.create_token(gate.db, "office", "office", start)[1]
    return FleetGate(name, config.home, secret)


class GateServers:
    """The gates' applications under waitress on free loopback ports, each in its own thread."""

    def __init__(self, gates: list[FleetGate], threads: int = 1) -> None:
        from web import create_app  # Flask only where gates are served

        self.servers = []
        for gate in gates:
            # poll(), not select(): a loop still polling when the server is closed sees the closed
            # sockets as such instead of dying on EBADF in its thread
            server = waitress.create_server(create_app({"KIOSK_HOME": str(gate.home)}), host="127.0.0.1", port=0,
                                            threads=threads, asyncore_use_poll=True)
            threading.Thread(target=server.run, name=f"serve-{gate.name}", daemon=True).start()
            gate.url = f"http://127.0.0.1:{server.effective_port}"
            self.servers.append(server)

    def close(self) -> None:
        for server in self.servers:
            server.close()  # its daemon thread idles on until the process ends: joining it would wait

    def __enter__(self) -> "GateServers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
