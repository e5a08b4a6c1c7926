"""Gate commands: set-up, trusted keys, the registry replica, deciding, guards and the event log."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from kiosk.cli.context import now, open_gate, read_key_text
from kiosk.core.i18n import language, say, t
from kiosk.core.rules import Scan
from kiosk.core.shifts import shifts_of_day
from kiosk.core.transport import shown
from kiosk.gate import usb_export
from kiosk.gate.service import CheckResult, Gate, NotRecorded
from kiosk.store import events as events_mod
from kiosk.store import guards, registry, tls
from kiosk.store.config import DEFAULT_LANES, create_home
from kiosk.store.shift_logs import shift_log

EVENT_COLUMNS = ("seq", "id", "ts_local", "shift_id", "lane", "direction", "kind", "outcome", "codes",
                 "pass_id", "subject_kind", "subject_id", "household_id", "plate", "temperature",
                 "guard_id", "clock_synced", "hash")
NOT_RECORDED_EXIT = 3  # `kiosk check --record`: decided, but the event could not be stored


# --- gate set-up -----------------------------------------------------------------------

@click.command()
@click.option("--site", "site_id", required=True, help="Compound (site) id, e.g. jinan.")
@click.option("--gate-id", required=True, help="This gate's id, e.g. jinan-gate.")
@click.option("--trust-key", help="Office public key line, or a file holding it.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.pass_context
def init(ctx, site_id, gate_id, trust_key, timezone):
    """Create a gate data folder with its configuration.

    \b
    Example:
        kiosk --home /var/lib/kiosk init --site jinan --gate-id jinan-gate --trust-key office-public-key.txt
    """
    config = create_home(ctx.obj, {"role": "gate", "site_id": site_id, "gate_id": gate_id,
                                   "timezone": timezone, "lanes": DEFAULT_LANES})
    with Gate(config) as gate:
        usb_export.export_key(gate)  # now, while the card takes writes: an export may be needed when it does not
        if trust_key:
            say("cli.trusted_key", kid=registry.trust_key(gate.db, read_key_text(trust_key), now()))
        usb_export.export_key(gate)  # made now, so the office can pin it at its first contact
    say("cli.gate_initialised", gate_id=gate_id, home=config.home)
    say("tls.fingerprint", fingerprint=shown(tls.ensure_certificate(config)))


@click.group("keys")
def keys_group():
    """Public keys this gate trusts for passes and registry bundles.

    \b
    Example:
        kiosk keys trust office-public-key.txt
    """


@keys_group.command("trust")
@click.argument("key")
@click.pass_context
def keys_trust(ctx, key):
    """Trust an office public key (the line, or a file holding it).

    \b
    Example:
        kiosk keys trust office-public-key.txt
    """
    gate = open_gate(ctx)
    say("cli.trusted_key", kid=registry.trust_key(gate.db, read_key_text(key), now()))


@keys_group.command("remove")
@click.argument("key_id")
@click.pass_context
def keys_remove(ctx, key_id):
    """Stop trusting a retired office key (passes and bundles signed by it are refused).

    \b
    Example:
        kiosk keys remove 1a2b3c4d
    """
    registry.distrust_key(open_gate(ctx).db, key_id)
    say("cli.key_removed", kid=key_id)


@keys_group.command("list")
@click.pass_context
def keys_list(ctx):
    """List trusted keys.

    \b
    Example:
        kiosk keys list
    """
    for kid in registry.trusted_keys(open_gate(ctx).db):
        click.echo(kid)


@click.group("registry")
def registry_group():
    """The registry replica on a gate.

    \b
    Example:
        kiosk registry load /media/usb/registry.bundle
    """


@registry_group.command("load")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def registry_load(ctx, bundle):
    """Apply a signed registry bundle atomically (refuses older, foreign, forged ones).

    \b
    Example:
        kiosk registry load /media/usb/registry.bundle
    """
    gate = open_gate(ctx)
    info = registry.load_bundle_file(gate.db, bundle, gate.site_id, now(gate))
    counts = ", ".join(f"{k} {v}" for k, v in info.counts.items())
    say("cli.registry_loaded", version=info.version, site=info.site_id, counts=counts)


@registry_group.command("info")
@click.pass_context
def registry_info(ctx):
    """Show the loaded registry version and when it was issued and loaded.

    \b
    Example:
        kiosk registry info
    """
    meta = registry.meta(open_gate(ctx).db)
    for key in ("version", "site_id", "issued_utc", "loaded_utc", "key_id"):
        click.echo(f"{key}: {meta.get(key, '-')}")


# --- deciding --------------------------------------------------------------------------

@click.command()
@click.argument("token")
@click.option("--direction", type=click.Choice(["in", "out"]), required=True)
@click.option("--temp", "temperature", type=float, help="Temperature in °C (of the driver with --driver).")
@click.option("--plate", help="Vehicle plate as read by the guard.")
@click.option("--driver", help="A vehicle passage: TOKEN is the vehicle's pass, this the driver's own pass.")
@click.option("--lane", help="Lane id (default: the first lane with this direction).")
@click.option("--record", is_flag=True, help="Record the decision in the event log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def check(ctx, token, direction, temperature, plate, driver, lane, record, as_json):
    """Decide on a pass token (GP1:...) or a pass id typed by a guard.

    A vehicle pass needs its driver (人车同检): --driver with the driver's own pass.
    Exit status 0 when allowed, 2 when refused or referred, 3 when --record could not store it.

    \b
    Example:
        kiosk check GP1:6BFOXN... --direction in --temp 36.6 --record
    """
    gate = open_gate(ctx)
    lane = gate.lane(lane) if lane else next((l for l in gate.config["lanes"] if l["direction"] == direction), {})

    def scan_of(code: str, **facts) -> Scan:
        is_token = code.startswith("GP1:")
        return Scan(direction=direction, token=code if is_token else None, pass_id=None if is_token else code,
                    lane=lane.get("id"), source="camera" if is_token else "manual", **facts)

    person = scan_of(driver or token, temperature=temperature,
                     temperature_required=bool(lane.get("require_temperature")), plate=None if driver else plate)
    recorded = True
    try:
        result = gate.check_vehicle(scan_of(token, plate=plate), person, record=record) if driver else \
            gate.check(person, record=record)
    except NotRecorded as exc:  # the decision is still told, with the alarm and its own exit status
        result, recorded = CheckResult(exc.decision, None), False
        say("resilience.cli.not_recorded", err=True, reason=str(exc))
    decision = result.decision
    if as_json:
        click.echo(json.dumps({"outcome": decision.outcome, "codes": list(decision.codes),
                               "message": decision.message(language()), "pass_id": decision.pass_id,
                               "subject_kind": decision.subject_kind, "subject_id": decision.subject_id,
                               "event_seq": result.event["seq"] if result.event else None},
                              ensure_ascii=False))
    else:
        click.echo(f"{decision.outcome} {' '.join(decision.codes)}".strip())
        click.echo(decision.message(language()))
    ctx.exit(NOT_RECORDED_EXIT if not recorded else 0 if decision.outcome == "allow" else 2)


# --- guards ----------------------------------------------------------------------------

@click.group("guard")
def guard_group():
    """Guards and their duty (sign on / sign off).

    \b
    Example:
        kiosk guard on G001 --lane in
    """


@guard_group.command("add")
@click.argument("guard_id")
@click.option("--name", required=True)
@click.option("--org", "organisation", default="", help="Organisation the guard comes from.")
@click.option("--role", type=click.Choice(guards.ROLES), default="guard", show_default=True)
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True, envvar="KIOSK_PIN")
@click.pass_context
def guard_add(ctx, guard_id, name, organisation, role, pin):
    """Add a guard with a PIN (stored as a salted scrypt hash).

    \b
    Example:
        kiosk guard add G001 --name 王建国 --org 南秦社区 --role guard
    """
    guards.add_guard(open_gate(ctx).db, guard_id, name, pin, organisation, role)
    say("cli.guard_added", guard_id=guard_id)


@guard_group.command("set-pin")
@click.argument("guard_id")
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True, envvar="KIOSK_PIN",
              help="The new PIN: 4 to 12 digits, a supervisor's 6 to 12.")
@click.pass_context
def guard_set_pin(ctx, guard_id, pin):
    """Give a guard a new PIN (and lift a lockout). Supervisors whose PIN has fewer than 6 digits
    approve nothing until they get a new one here.

    \b
    Example:
        kiosk guard set-pin S001
    """
    guards.set_pin(open_gate(ctx).db, guard_id, pin)
    say("security.pin_set", guard_id=guard_id)


@guard_group.command("unlock")
@click.argument("guard_id")
@click.pass_context
def guard_unlock(ctx, guard_id):
    """Lift a guard's lockout after wrong PINs (the supervisor's decision, at the gate).

    \b
    Example:
        kiosk guard unlock S001
    """
    guards.unlock(open_gate(ctx).db, guard_id)
    say("security.unlocked", guard_id=guard_id)


@guard_group.command("list")
@click.pass_context
def guard_list(ctx):
    """List guards and who is on duty.

    \b
    Example:
        kiosk guard list
    """
    db = open_gate(ctx).db
    duty = {row["guard_id"]: row["lane"] for row in guards.open_duty(db)}
    for row in db.query("SELECT id, name, organisation, role FROM guards ORDER BY id"):
        lane = " " + t("cli.on_duty_at", lane=duty[row["id"]]) if row["id"] in duty else ""
        click.echo(f"{row['id']}\t{row['name']}\t{row['organisation']}\t{row['role']}{lane}")


@guard_group.command("on")
@click.argument("guard_id")
@click.option("--lane", required=True)
@click.option("--pin", prompt=True, hide_input=True, envvar="KIOSK_PIN")
@click.pass_context
def guard_on(ctx, guard_id, lane, pin):
    """Sign a guard on at a lane.

    \b
    Example:
        kiosk guard on G001 --lane in
    """
    gate = open_gate(ctx)
    gate.lane(lane)
    event = gate.sign_on(guard_id, pin, lane, now(gate))
    say("cli.signed_on", guard_id=guard_id, lane=lane, shift=event["shift_id"])


@guard_group.command("off")
@click.argument("guard_id")
@click.option("--note", default="", help="Handover note for the next shift.")
@click.option("--pin", prompt=True, hide_input=True, envvar="KIOSK_PIN")
@click.pass_context
def guard_off(ctx, guard_id, note, pin):
    """Sign a guard off, with a handover note.

    \b
    Example:
        kiosk guard off G001 --note "2号楼外卖已登记"
    """
    gate = open_gate(ctx)
    event = gate.sign_off(guard_id, pin, now(gate), note)
    say("cli.signed_off", guard_id=guard_id, shift=event["shift_id"])


# --- the log ---------------------------------------------------------------------------

@click.command("events")
@click.option("--since", type=int, default=0, show_default=True, help="Only events after this seq.")
@click.option("--limit", type=int, help="At most this many events.")
@click.option("--json", "fmt", flag_value="json", help="One JSON object per line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.pass_context
def events_cmd(ctx, since, limit, fmt):
    """List recorded events in order.

    \b
    Example:
        kiosk events --since 120 --csv > events.csv
    """
    rows = events_mod.iter_events(open_gate(ctx).db, since=since, limit=limit)
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=EVENT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            click.echo(f"{row['seq']}\t{row['ts_local']}\t{row['lane'] or '-'}\t{row['direction'] or '-'}\t"
                       f"{row['kind']}\t{row['outcome'] or '-'}\t{','.join(json.loads(row['codes']))}\t"
                       f"{row['subject_id'] or '-'}\t{row['guard_id'] or '-'}")


@click.command("shifts")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Local date (default today).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def shifts_cmd(ctx, day, as_json):
    """Shift logs of a day: entries, exits, refusals, fevers, guards, handover notes.

    \b
    Example:
        kiosk shifts --date 2026-11-29 --json
    """
    gate = open_gate(ctx)
    day = day.date() if day else gate.shift(now(gate)).start.date()
    logs = [shift_log(gate.db, ref) for ref in shifts_of_day(day, gate.shift_defs, gate.tz)]
    if as_json:
        click.echo(json.dumps(logs, ensure_ascii=False, indent=1))
        return
    for log in logs:
        say("cli.shift_line", shift_id=log["shift_id"], name=log["name_zh" if language() == "zh" else "name_en"],
            start=log["start"][11:16], end=log["end"][11:16], in_p=log["entries"]["persons"],
            in_v=log["entries"]["vehicles"], out_p=log["exits"]["persons"], out_v=log["exits"]["vehicles"],
            refused=sum(log["refusals_by_code"].values()), fevers=log["fevers"], overrides=log["overrides"],
            returnees=log["returnees"])
        for note in log["handover_notes"]:
            say("cli.handover", guard_id=note["guard_id"], note=note["note"])


@click.command("verify-log")
@click.pass_context
def verify_log(ctx):
    """Check the event hash chain and the database's integrity.

    Exit status 1 when anything was altered or removed.

    \b
    Example:
        kiosk verify-log
    """
    report = events_mod.verify_log(open_gate(ctx).db)
    for problem in report.problems:
        click.echo(problem, err=True)
    say("cli.verify_ok" if report.ok else "cli.verify_failed", count=report.checked)
    ctx.exit(0 if report.ok else 1)


@click.command("log-gap")
@click.argument("supervisor_id")
@click.option("--pin", prompt=True, hide_input=True, envvar="KIOSK_PIN")
@click.pass_context
def log_gap(ctx, supervisor_id, pin):
    """Let recording go on after the card lost events: a supervisor's log_gap event.

    When verify-log or doctor say "events lost" (a truncated WAL), the gate decides but records
    nothing. This records a `log_gap` event that declares the lost seqs and takes the seq after
    them, so no seq the office may already hold is used twice. Needs a supervisor's PIN. Exit
    status 1 when no events were lost.

    \b
    Example:
        kiosk log-gap S001
    """
    gate = open_gate(ctx)
    try:
        event = gate.acknowledge_lost_events(supervisor_id, pin, now(gate))
    except events_mod.LostEvents:
        say("lost_events.none")
        ctx.exit(1)
    data = json.loads(event["data"])
    say("lost_events.acknowledged", lost_from=data["lost_from"], lost_to=data["lost_to"], seq=event["seq"],
        guard_id=event["guard_id"])
