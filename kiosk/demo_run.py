"""``kiosk demo``: a demo community, then the simulated gate (and the web page) until Ctrl-C."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import click

from kiosk.loop_cli import run_simulated


def start_web(gate_home: Path) -> None:
    """THE place where the demo starts the web page, when kiosk.serve exists (web branch).

    Runs in a daemon thread so Ctrl-C stops the gate loop and the process.
    """
    if importlib.util.find_spec("kiosk.serve") is None:
        return
    from kiosk import serve as serve_mod  # noqa: PLC0415 - optional until the web branch is merged

    serve = getattr(serve_mod, "serve", None)
    if serve is None:
        return
    threading.Thread(target=serve, args=(gate_home, "127.0.0.1", 8000), name="web",
                     daemon=True).start()
    click.echo("web page: http://127.0.0.1:8000/")


def run_demo(root: Path, once: bool = False, language: str = "zh") -> None:
    root = Path(root)
    click.echo(f"demo office: {root / 'office'}\ndemo gate:   {root / 'gate'}")
    if not once:
        start_web(root / "gate")
    run_simulated(root, once=once, realtime=not once, language=language)
