"""Serve the web page with waitress, the production WSGI server.

Threads: each open guard screen holds one for its live stream (at most SSE_LIFETIME
seconds at a time), so the pool is sized for several screens plus ordinary requests.
Waitress reads a busy connection only with ``channel_request_lookahead`` > 0; without it a
screen that went away is noticed only when a later write fails, and its thread stays
taken until then.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_THREADS = 16


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8000, threads: int = DEFAULT_THREADS) -> None:
    import waitress

    from web import MAX_BODY_BYTES, create_app

    app = create_app({"KIOSK_HOME": str(home)})
    waitress.serve(app, host=host, port=port, threads=threads, ident="kiosk", channel_timeout=30,
                   channel_request_lookahead=1, max_request_body_size=MAX_BODY_BYTES)
