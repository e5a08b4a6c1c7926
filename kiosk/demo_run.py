"""``kiosk demo``: a demo community, then a scripted round of checks at the gate."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.clock import SystemClock
from kiosk.demo import GUARD, create_demo
from kiosk.gate import Gate
from kiosk.rules import Scan

SCRIPT = [("resident", "in", 36.5), ("resident", "out", 36.6), ("vehicle", "in", None),
          ("monitored", "in", 36.8), ("second_resident", "in", 38.1), ("revoked", "in", 36.4),
          ("isolated", "out", 36.5), ("household_member", "out", 36.4)]


def run_demo(root: Path) -> None:
    clock = SystemClock()
    community = create_demo(root, clock.now())
    click.echo(f"demo office: {community.office_home}\ndemo gate:   {community.gate_home}")
    with Gate.open(community.gate_home, clock=clock) as gate:
        if not gate.db["duty"].count_where("off_utc IS NULL"):
            gate.sign_on(GUARD[0], GUARD[2], "in", clock.now())
        for role, direction, temperature in SCRIPT:
            lane = "in" if direction == "in" else "out"
            result = gate.check(Scan(direction=direction, token=community.tokens[role], temperature=temperature,
                                     lane=lane, temperature_required=direction == "in"))
            click.echo(f"[{lane}] {role:17} {result.decision.outcome:6} {result.decision.message_zh}")
