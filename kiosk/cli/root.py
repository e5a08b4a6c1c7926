"""The ``kiosk`` command line: a thin click layer over the library.

Every command finds its data folder from ``--home DIR``, else ``$KIOSK_HOME``, else
``~/.local/share/kiosk``. Each command's docstring is its ``--help``.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from kiosk import __version__
from kiosk.core.errors import KioskError
from kiosk.core.i18n import LANGUAGES, language, say, t, use_language
from kiosk.core.plates import normalise_plate
from kiosk.core.rules import Scan
from kiosk.core.shifts import shifts_of_day
from kiosk.gate.service import Gate
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.store import events as events_mod
from kiosk.store import guards, registry
from kiosk.store.config import DEFAULT_LANES, ConfigError, create_home, resolve_home
from kiosk.store.shift_logs import shift_log

EVENT_COLUMNS = ("seq", "id", "ts_local", "shift_id", "lane", "direction", "kind", "outcome", "codes",
                 "pass_id", "subject_kind", "subject_id", "household_id", "plate", "temperature",
                 "guard_id", "clock_synced", "hash")


def _refusal(exc: Exception) -> str:
    """``[code] 中文说明 (detail)``: the catalogue's text for the code, the library's detail after it."""
    code = getattr(exc, "code", None)
    if not code:
        return str(exc)
    text = t(f"error.{code}")
    return f"[{code}] {str(exc)}" if text == f"error.{code}" else f"[{code}] {text} ({exc})"


class KioskGroup(click.Group):
    """Turns the library's refusals into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ConfigError, KioskError, ValueError, KeyError) as exc:
            raise click.ClickException(_refusal(exc)) from exc


@click.group(cls=KioskGroup)
@click.option("--home", type=click.Path(file_okay=False), envvar="KIOSK_HOME",
              help="Data folder (default: $KIOSK_HOME or ~/.local/share/kiosk).")
@click.option("--lang", type=click.Choice(LANGUAGES), envvar="KIOSK_LANG",
              help="Language of messages: zh (default) or en.")
@click.version_option(__version__, prog_name="kiosk")
@click.pass_context
def cli(ctx: click.Context, home: str | None, lang: str | None) -> None:
    """Gate checkpoint kiosk: signed passes, temperatures, gate relay, event log.

    Example: kiosk --home /var/lib/kiosk check GP1:... --direction in --temp 36.6
    """
    ctx.obj = resolve_home(home)
    if lang:
        use_language(lang)
        ctx.call_on_close(lambda: use_language(None))  # in-process callers (tests) keep their own


def _gate(ctx: click.Context) -> Gate:
    return ctx.with_resource(Gate.open(ctx.obj))


def _office(ctx: click.Context) -> Office:
    return ctx.with_resource(Office.open(ctx.obj))


def _now(gate_or_none=None) -> datetime:
    from kiosk.core.clock import SystemClock

    return (gate_or_none.clock if gate_or_none else SystemClock()).now()


def _read_key_text(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if path.exists() else value


# --- gate set-up -----------------------------------------------------------------------

@cli.command()
@click.option("--site", "site_id", required=True, help="Compound (site) id, e.g. jinan.")
@click.option("--gate-id", required=True, help="This gate's id, e.g. jinan-gate.")
@click.option("--trust-key", help="Office public key line, or a file holding it.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.pass_context
def init(ctx, site_id, gate_id, trust_key, timezone):
    """Create a gate data folder with its configuration.

    Example: kiosk --home /var/lib/kiosk init --site jinan --gate-id jinan-gate
    --trust-key office-public-key.txt
    """
    config = create_home(ctx.obj, {"role": "gate", "site_id": site_id, "gate_id": gate_id,
                                   "timezone": timezone, "lanes": DEFAULT_LANES})
    with Gate(config) as gate:
        if trust_key:
            say("cli.trusted_key", kid=registry.trust_key(gate.db, _read_key_text(trust_key), _now()))
    say("cli.gate_initialised", gate_id=gate_id, home=config.home)


@cli.group("keys")
def keys_group():
    """Public keys this gate trusts for passes and registry bundles.

    Example: kiosk keys trust office-public-key.txt
    """


@keys_group.command("trust")
@click.argument("key")
@click.pass_context
def keys_trust(ctx, key):
    """Trust an office public key (the line, or a file holding it).

    Example: kiosk keys trust office-public-key.txt
    """
    gate = _gate(ctx)
    say("cli.trusted_key", kid=registry.trust_key(gate.db, _read_key_text(key), _now()))


@keys_group.command("remove")
@click.argument("key_id")
@click.pass_context
def keys_remove(ctx, key_id):
    """Stop trusting a retired office key (passes and bundles signed by it are refused).

    Example: kiosk keys remove 1a2b3c4d
    """
    registry.distrust_key(_gate(ctx).db, key_id)
    say("cli.key_removed", kid=key_id)


@keys_group.command("list")
@click.pass_context
def keys_list(ctx):
    """List trusted keys.

    Example: kiosk keys list
    """
    for kid in registry.trusted_keys(_gate(ctx).db):
        click.echo(kid)


@cli.group("registry")
def registry_group():
    """The registry replica on a gate.

    Example: kiosk registry load /media/usb/registry.bundle
    """


@registry_group.command("load")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def registry_load(ctx, bundle):
    """Apply a signed registry bundle atomically (refuses older, foreign, forged ones).

    Example: kiosk registry load /media/usb/registry.bundle
    """
    gate = _gate(ctx)
    info = registry.load_bundle_file(gate.db, bundle, gate.site_id, _now(gate))
    counts = ", ".join(f"{k} {v}" for k, v in info.counts.items())
    say("cli.registry_loaded", version=info.version, site=info.site_id, counts=counts)


@registry_group.command("info")
@click.pass_context
def registry_info(ctx):
    """Show the loaded registry version and when it was issued and loaded.

    Example: kiosk registry info
    """
    meta = registry.meta(_gate(ctx).db)
    for key in ("version", "site_id", "issued_utc", "loaded_utc", "key_id"):
        click.echo(f"{key}: {meta.get(key, '-')}")


# --- deciding --------------------------------------------------------------------------

@cli.command()
@click.argument("token")
@click.option("--direction", type=click.Choice(["in", "out"]), required=True)
@click.option("--temp", "temperature", type=float, help="Temperature in °C (of the driver with --driver).")
@click.option("--plate", help="Vehicle plate as read by the guard.")
@click.option("--driver", help="A vehicle passage: TOKEN is the vehicle's pass, this the driver's own pass.")
@click.option("--lane", help="Lane id (default: the first lane with this direction).")
@click.option("--record", is_flag=True, help="Record the decision in the event log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
def check(ctx, token, direction, temperature, plate, lane, driver, record, as_json, lang):
    """Decide on a pass token (GP1:...) or a pass id typed by a guard.

    A vehicle pass needs its driver (人车同检): --driver with the driver's own pass.
    Exit status 0 when allowed, 2 when refused or referred.

    Example: kiosk check GP1:6BFOXN... --direction in --temp 36.6 --record
    """
    gate = _gate(ctx)
    lane = gate.lane(lane) if lane else next((l for l in gate.config["lanes"] if l["direction"] == direction), {})

    def scan_of(code: str, **facts) -> Scan:
        is_token = code.startswith("GP1:")
        return Scan(direction=direction, token=code if is_token else None, pass_id=None if is_token else code,
                    lane=lane.get("id"), source="camera" if is_token else "manual", **facts)

    person = scan_of(driver or token, temperature=temperature,
                     temperature_required=bool(lane.get("require_temperature")), plate=None if driver else plate)
    result = gate.check_vehicle(scan_of(token, plate=plate), person, record=record) if driver else \
        gate.check(person, record=record)
    decision = result.decision
    if as_json:
        click.echo(json.dumps({"outcome": decision.outcome, "codes": list(decision.codes),
                               "message": decision.message(lang), "pass_id": decision.pass_id,
                               "subject_kind": decision.subject_kind, "subject_id": decision.subject_id,
                               "event_seq": result.event["seq"] if result.event else None},
                              ensure_ascii=False))
    else:
        click.echo(f"{decision.outcome} {' '.join(decision.codes)}".strip())
        click.echo(decision.message(lang))
    ctx.exit(0 if decision.outcome == "allow" else 2)


# --- guards ----------------------------------------------------------------------------

@cli.group("guard")
def guard_group():
    """Guards and their duty (sign on / sign off).

    Example: kiosk guard on G001 --lane in
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

    Example: kiosk guard add G001 --name 王建国 --org 南秦社区 --role guard
    """
    guards.add_guard(_gate(ctx).db, guard_id, name, pin, organisation, role)
    say("cli.guard_added", guard_id=guard_id)


@guard_group.command("list")
@click.pass_context
def guard_list(ctx):
    """List guards and who is on duty.

    Example: kiosk guard list
    """
    db = _gate(ctx).db
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

    Example: kiosk guard on G001 --lane in
    """
    gate = _gate(ctx)
    gate.lane(lane)
    event = gate.sign_on(guard_id, pin, lane, _now(gate))
    say("cli.signed_on", guard_id=guard_id, lane=lane, shift=event["shift_id"])


@guard_group.command("off")
@click.argument("guard_id")
@click.option("--note", default="", help="Handover note for the next shift.")
@click.option("--pin", prompt=True, hide_input=True, envvar="KIOSK_PIN")
@click.pass_context
def guard_off(ctx, guard_id, note, pin):
    """Sign a guard off, with a handover note.

    Example: kiosk guard off G001 --note "2号楼外卖已登记"
    """
    gate = _gate(ctx)
    event = gate.sign_off(guard_id, pin, _now(gate), note)
    say("cli.signed_off", guard_id=guard_id, shift=event["shift_id"])


# --- the log ---------------------------------------------------------------------------

@cli.command("events")
@click.option("--since", type=int, default=0, show_default=True, help="Only events after this seq.")
@click.option("--limit", type=int, help="At most this many events.")
@click.option("--json", "fmt", flag_value="json", help="One JSON object per line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.pass_context
def events_cmd(ctx, since, limit, fmt):
    """List recorded events in order.

    Example: kiosk events --since 120 --csv > events.csv
    """
    rows = events_mod.iter_events(_gate(ctx).db, since=since, limit=limit)
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


@cli.command("shifts")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Local date (default today).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def shifts_cmd(ctx, day, as_json):
    """Shift logs of a day: entries, exits, refusals, fevers, guards, handover notes.

    Example: kiosk shifts --date 2026-11-29 --json
    """
    gate = _gate(ctx)
    day = day.date() if day else gate.shift(_now(gate)).start.date()
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


@cli.command("verify-log")
@click.pass_context
def verify_log(ctx):
    """Check the event hash chain and the database's integrity.

    Exit status 1 when anything was altered or removed.

    Example: kiosk verify-log
    """
    report = events_mod.verify_log(_gate(ctx).db)
    for problem in report.problems:
        click.echo(problem, err=True)
    say("cli.verify_ok" if report.ok else "cli.verify_failed", count=report.checked)
    ctx.exit(0 if report.ok else 1)


# --- office ----------------------------------------------------------------------------

@cli.group("office")
def office_group():
    """The community office: registry, passes, bundles.

    Example: kiosk --home office-data office bundle --site jinan --out registry.bundle
    """


@office_group.command("init")
@click.option("--site", "sites", multiple=True, required=True, help="A compound id (repeatable).")
@click.pass_context
def office_init(ctx, sites):
    """Create an office data folder and its Ed25519 signing key.

    Prints the public key line that gates must trust.

    Example: kiosk --home office-data office init --site jinan --site longhai
    """
    config = create_home(ctx.obj, {"role": "office", "site_id": sites[0], "sites": list(sites)})
    with Office(config) as office:
        click.echo(office_mod.init_keys(office))


@office_group.command("import")
@click.argument("ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "site_id", required=True)
@click.option("--strict", is_flag=True, help="Import nothing if any row is bad.")
@click.pass_context
def office_import(ctx, ledger, site_id, strict):
    """Import residents from a CSV or XLSX ledger (Chinese or English headers).

    Columns: 编号/id, 姓名/name, 电话/phone, 楼栋/building, 单元/unit, 房号/room,
    车牌/plate, 健康状态/health, 截止日期/health_until, 负责干部/cadre_name, 干部电话/cadre_phone.

    Example: kiosk office import 金岸台账.xlsx --site jinan --strict
    """
    report = ledger_mod.import_ledger(_office(ctx), ledger, site_id, _now(), strict)
    for line, problem in report.errors:
        click.echo(f"{ledger}:{line}: {problem}", err=True)
    say("cli.imported", imported=report.imported, bad=len(report.errors))
    ctx.exit(1 if report.errors else 0)


@office_group.command("issue")
@click.option("--site", "site_id", required=True)
@click.option("--person", "persons", multiple=True, help="Resident id (repeatable).")
@click.option("--vehicle", "vehicles", multiple=True, help="Plate (repeatable).")
@click.option("--all", "everyone", is_flag=True, help="Every resident and vehicle of the site.")
@click.option("--days", type=float, default=30, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.pass_context
def office_issue(ctx, site_id, persons, vehicles, everyone, days, out, fmt):
    """Issue signed passes: a token per line in tokens.tsv and a QR image each.

    Example: kiosk office issue --site jinan --person R001 --days 30 --out passes/
    """
    office = _office(ctx)
    wanted = office_mod.subjects(office, site_id, ("resident", "vehicle")) if everyone else \
        [("resident", p) for p in persons] + [("vehicle", normalise_plate(v)) for v in vehicles]
    if not wanted:
        raise click.UsageError(t("cli.name_subjects"))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "tokens.tsv").open("a", encoding="utf-8") as listing:
        for kind, subject in wanted:
            issued = office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id=site_id,
                                           now=_now(), days=days)
            office_mod.write_qr(issued.token, out / f"{issued.pass_id}.{fmt}", fmt)
            listing.write(f"{issued.pass_id}\t{kind}\t{subject}\t{issued.token}\n")
            click.echo(f"{issued.pass_id}\t{kind}\t{subject}")


@office_group.command("revoke")
@click.argument("pass_id")
@click.option("--block", is_flag=True, help="Block (temporarily) instead of revoking.")
@click.option("--reason", default="")
@click.pass_context
def office_revoke(ctx, pass_id, block, reason):
    """Revoke or block a pass; gates learn it with the next bundle.

    Example: kiosk office revoke P1A2B3C4D5 --reason 遗失
    """
    office_mod.set_pass_status(_office(ctx), pass_id, "blocked" if block else "revoked", reason)
    say("cli.pass_blocked" if block else "cli.pass_revoked", pass_id=pass_id)


@office_group.command("bundle")
@click.option("--site", "site_id", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def office_bundle(ctx, site_id, out):
    """Write the next signed registry bundle for a site.

    Example: kiosk office bundle --site jinan --out /media/usb/registry.bundle
    """
    version, path = office_mod.write_bundle(_office(ctx), site_id, _now(), out)
    say("cli.bundle_written", version=version, site=site_id, path=path)


@office_group.command("public-key")
@click.pass_context
def office_public_key(ctx):
    """Print the office public key line for `kiosk init --trust-key`.

    Example: kiosk office public-key > office-public-key.txt
    """
    click.echo(_office(ctx).public_key())


# --- demo ------------------------------------------------------------------------------

@cli.command()
@click.option("--once", is_flag=True, help="Play the scenario once, fast, then stop.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
def demo(ctx, once, lang):
    """Create a demo office and gate with a demo registry, then run the simulated gate.

    Runs until Ctrl-C, printing each decision (with --once: one round, then stop).

    Example: kiosk --home demo-data demo
    """
    from kiosk.sim.demo_run import run_demo

    run_demo(ctx.obj, once=once, language=lang)


from hardware.cli import decode  # noqa: E402  (device commands live with the devices)
from kiosk.cli.web import serve_cmd, web_user_group  # noqa: E402  (web commands)

cli.add_command(decode)
cli.add_command(serve_cmd)
cli.add_command(web_user_group)
from kiosk.cli.loop import doctor, run  # noqa: E402  (scan loop commands)

cli.add_command(run)
cli.add_command(doctor)


from kiosk.cli.sync import register as register_sync  # noqa: E402 (needs the groups above)

register_sync(cli)


def main() -> None:
    cli(prog_name="kiosk")
