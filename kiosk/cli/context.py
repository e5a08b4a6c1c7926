"""What the commands share: the gate or office of the chosen data folder, and the time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from kiosk.core.clock import SystemClock
from kiosk.gate.service import Gate
from kiosk.office.service import Office


def open_gate(ctx: click.Context) -> Gate:
    """The gate in the root's data folder, closed when the command ends."""
    return ctx.with_resource(Gate.open(ctx.obj))


def open_office(ctx: click.Context) -> Office:
    """The office in the root's data folder, closed when the command ends."""
    return ctx.with_resource(Office.open(ctx.obj))


def now(gate: Gate | None = None) -> datetime:
    """The gate's clock when there is a gate, else the system clock."""
    return (gate.clock if gate else SystemClock()).now()


def read_key_text(value: str) -> str:
    """A public key line given as itself or as a file holding it."""
    path = Path(value)
    return path.read_text().strip() if path.exists() else value
