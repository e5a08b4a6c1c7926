"""Gate commands for visitors and deliveries (kiosk.gate.visitors)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import click

from kiosk.cli.context import now, open_gate
from kiosk.core.clock import parse_utc
from kiosk.core.i18n import language, say
from kiosk.gate import visitors


@click.group("visitor")
def visitor_group():
    """Visitors and deliveries at the gate.

    \b
    Example:
        kiosk visitor delivery --name 李师傅 --company 顺丰 --household jinan:1-1-101 --temp 36.5
    """


@visitor_group.command("issue")
@click.option("--supervisor", "supervisor_id", required=True, help="The issuing supervisor's id.")
@click.option("--pin", prompt=True, hide_input=True, envvar="KIOSK_PIN", help="The supervisor's PIN.")
@click.option("--name", required=True, help="The visitor's name.")
@click.option("--phone", default="", help="The visitor's phone.")
@click.option("--household", "household_id", required=True, help="The host household's id.")
@click.option("--purpose", default="", help="探亲, 维修, ...")
@click.option("--hours", type=float, default=4, show_default=True, help=f"At most {visitors.MAX_VISIT_HOURS:g}.")
@click.pass_context
def visitor_issue(ctx, supervisor_id, pin, name, phone, household_id, purpose, hours):
    """A supervisor issues a visitor pass at the gate (checked by its id at the lane).

    \b
    Example:
        kiosk visitor issue --supervisor S001 --name 王芳 --household jinan:1-1-101 --hours 4
    """
    gate = open_gate(ctx)
    row = visitors.issue_at_gate(gate, supervisor_id=supervisor_id, pin=pin, name=name, phone=phone,
                                 household_id=household_id, purpose=purpose, hours=hours, now=now(gate))
    until = parse_utc(row["valid_until"]).astimezone(ZoneInfo(gate.tz)).strftime("%Y-%m-%d %H:%M")
    say("passes.visitor_gate_issued", pass_id=row["id"], name=row["name"], household=household_id, until=until)


@visitor_group.command("delivery")
@click.option("--name", default="", help="The courier's name.")
@click.option("--company", default="", help="顺丰, 美团, ...")
@click.option("--phone", default="")
@click.option("--household", "household_id", required=True, help="The household the delivery is for.")
@click.option("--temp", "temperature", type=float, help="Temperature in °C.")
@click.option("--direction", type=click.Choice(["in", "out"]), default="in", show_default=True)
@click.option("--lane", help="Lane id (default: the first lane with this direction).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def visitor_delivery(ctx, name, company, phone, household_id, temperature, direction, lane, as_json):
    """Log a courier or delivery (no pass); the temperature is judged by the lane's rules.

    Exit status 0 when allowed, 2 when refused or referred (fever, no temperature).

    \b
    Example:
        kiosk visitor delivery --company 顺丰 --household jinan:1-1-101 --temp 36.5
    """
    gate = open_gate(ctx)
    decision, event = visitors.log_delivery(gate, name=name, company=company, phone=phone, household_id=household_id,
                                            temperature=temperature, lane=lane, direction=direction, now=now(gate))
    if as_json:
        click.echo(json.dumps({"outcome": decision.outcome, "codes": list(decision.codes),
                               "message": decision.message(language()), "event_seq": event["seq"]},
                              ensure_ascii=False))
    else:
        click.echo(f"{decision.outcome} {' '.join(decision.codes)}".strip())
        say("passes.delivery_logged", outcome=decision.message(language()), seq=event["seq"])
    ctx.exit(0 if decision.outcome == "allow" else 2)
