"""Serve the web page: plain HTTP on loopback for the touchscreen, HTTPS for the LAN.

One process, one application, two listeners:

- waitress on a loopback address (the kiosk's Chromium opens http://127.0.0.1:8000/). It
  never faces the LAN: any other address is refused. Threads: each open guard screen holds
  one for its live stream (at most SSE_LIFETIME seconds at a time), so the pool is sized for
  several screens plus ordinary requests. Waitress reads a busy connection only with
  ``channel_request_lookahead`` > 0; without it a screen that went away is noticed only when
  a later write fails, and its thread stays taken until then.
- cheroot (CherryPy's pure-Python server, with the standard library's ssl) on the LAN
  address with the gate's own certificate (kiosk.store.tls), which the office pins. A client
  speaking plain HTTP to it gets a 400 before any request reaches the application, so no
  token, cookie or event crosses the LAN in clear.
"""

from __future__ import annotations

import threading
from pathlib import Path

from kiosk.core.errors import KioskError
from kiosk.core.transport import is_loopback

DEFAULT_THREADS = 16
HANDSHAKE_TIMEOUT_S = 5.0  # cheroot shakes hands in its accepting thread: a silent client stalls it this long


def check_plain_host(host: str) -> None:
    if not is_loopback(host):
        raise KioskError("plain_http_off_loopback", f"plain HTTP is served on loopback only, not on {host!r}")


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8000, threads: int = DEFAULT_THREADS,
          tls_host: str = "", tls_port: int = 8443) -> None:
    """Serve until stopped: plain HTTP on ``host`` (loopback), HTTPS on ``tls_host`` when given."""
    import waitress

    from web import MAX_BODY_BYTES, create_app

    check_plain_host(host)
    app = create_app({"KIOSK_HOME": str(home)})
    secure = _https_server(app, tls_host, tls_port, threads) if tls_host else None
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="kiosk", channel_timeout=30,
                       channel_request_lookahead=1, max_request_body_size=MAX_BODY_BYTES)
    finally:
        if secure is not None:
            secure.stop()


def _https_server(app, host: str, port: int, threads: int):
    """cheroot with the gate's certificate, bound now (a taken port fails at once) and serving in a thread."""
    from cheroot import wsgi

    from kiosk.store import tls
    from web import MAX_BODY_BYTES

    config = app.extensions["kiosk_config"]
    tls.ensure_certificate(config)
    server = wsgi.Server((host, port), app, numthreads=threads, max=threads, server_name="kiosk", timeout=30)
    pem = str(tls.certificate_path(config))
    server.max_request_body_size = MAX_BODY_BYTES
    server.ssl_adapter = _ssl_adapter(pem)
    server.prepare()
    threading.Thread(target=server.serve, name="https", daemon=True).start()
    return server


def _ssl_adapter(pem: str):
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    class BoundedHandshake(BuiltinSSLAdapter):
        def wrap(self, sock):
            sock.settimeout(HANDSHAKE_TIMEOUT_S)  # cheroot sets its own timeout again afterwards
            return super().wrap(sock)

    return BoundedHandshake(pem, pem)
