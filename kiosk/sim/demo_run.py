"""``kiosk demo``: a demo community, then the simulated gate (and the web page) until Ctrl-C."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from kiosk.cli.loop import run_simulated


def start_web(gate_home: Path) -> None:
    """Serve the guard screen in a daemon thread, so Ctrl-C stops the gate and the process."""
    from web.serve import serve

    threading.Thread(target=serve, args=(gate_home, "127.0.0.1", 8000), name="web", daemon=True).start()
    click.echo("web page: http://127.0.0.1:8000/")


def run_demo(root: Path, once: bool = False) -> None:
    root = Path(root)
    click.echo(f"demo office: {root / 'office'}\ndemo gate:   {root / 'gate'}")
    if not once:
        start_web(root / "gate")
    run_simulated(root, once=once, realtime=not once)
