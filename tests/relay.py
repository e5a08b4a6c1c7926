"""A loopback TCP relay in front of a real server that passes a set number of answer bytes, then holds.

Tests use it to make "cut mid-stream" true by construction rather than by timing: the
client receives exactly the bytes allowed and then waits, however busy the machine is,
until the test kills one side. Either side closing cuts the other side's connection, as
a dead peer would.
"""

from __future__ import annotations

import selectors
import socket
import threading

CHUNK = 65536


class HoldingRelay:
    """Listens on a free loopback port and relays each connection to ``upstream_port``.

    Requests pass freely; answers pass until the budget set by :meth:`allow` is spent
    (over all connections), the rest is held. ``holding`` is set once an answer byte
    is being held back.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.holding = threading.Event()
        self._budget: int | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def allow(self, budget: int | None) -> None:
        """From now on pass ``budget`` more answer bytes, then hold (None: no limit)."""
        with self._lock:
            self._budget = budget
            self.holding.clear()

    def close(self) -> None:
        self._closed.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
            except OSError:  # the server is down: so is the connection
                client.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._relay, args=(client, upstream), name="relay", daemon=True).start()

    def _passable(self, held: int) -> int:
        """How many of the ``held`` answer bytes may pass now (and spend them)."""
        with self._lock:
            if self._budget is None:
                return held
            count = min(held, self._budget)
            self._budget -= count
            if count < held:
                self.holding.set()
            return count

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        with client, upstream, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            try:
                self._pump(selector, client, upstream)
            except OSError:  # one side is gone: cut the other
                pass

    def _pump(self, selector: selectors.BaseSelector, client: socket.socket, upstream: socket.socket) -> None:
        held = bytearray()
        while not self._closed.is_set():
            for key, _ in selector.select(timeout=0.2):  # the timeout also passes bytes a raised budget allows
                data = key.fileobj.recv(CHUNK)
                if not data:
                    return
                if key.fileobj is client:
                    upstream.sendall(data)
                else:
                    held += data  # read on while holding, so a dying server is noticed at once
            if held:
                count = self._passable(len(held))
                client.sendall(held[:count])
                del held[:count]
