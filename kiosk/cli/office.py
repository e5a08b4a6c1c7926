"""Office commands: the registry ledger, passes and bundles; with the office half of sync."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from kiosk.cli import passes, photos, sync
from kiosk.cli.context import now, open_office
from kiosk.core.i18n import say, t
from kiosk.core.plates import normalise_plate
from kiosk.office import identity, ledger_fields, ledger_report, listing, pass_book, residents, risk_areas
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.store.config import create_home, open_private
from kiosk.store.office_store import connect_postgres

# --- office ----------------------------------------------------------------------------

@click.group("office", commands=[sync.office_gate_group, sync.office_pull, sync.office_push, sync.office_report,
                                 sync.office_import_events, photos.photo_group, *passes.COMMANDS])
def office_group():
    """The community office: registry, passes, bundles; pulls from gates and reports.

    \b
    Example:
        kiosk --home office-data office bundle --site jinan --out registry.bundle
    """


@office_group.command("init")
@click.option("--site", "sites", multiple=True, required=True, help="A compound id (repeatable).")
@click.option("--database", help="A district office: keep the gates' events in this PostgreSQL database "
                                 "(postgresql://user@host/dbname; docs/district.md). Default: office.db (SQLite).")
@click.pass_context
def office_init(ctx, sites, database):
    """Create an office data folder and its Ed25519 signing key.

    Prints the public key line that gates must trust.

    \b
    Example:
        kiosk --home office-data office init --site jinan --site longhai
        kiosk --home district office init --site jinan --database postgresql://kiosk@db.example/district
    """
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter(t("district.bad_database_url", value=database), param_hint="--database")
    if database:
        connect_postgres(database).close()  # unreachable: said before the folder is written, so init can be run again
    config = create_home(ctx.obj, {"role": "office", "site_id": sites[0], "sites": list(sites),
                                   **({"database": database} if database else {})})
    with Office(config) as office:
        click.echo(office_mod.init_keys(office))


@office_group.command("import")
@click.argument("ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "site_id", required=True)
@click.option("--strict", is_flag=True, help="Import nothing if any row is refused.")
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
@click.option("--remove-gone", is_flag=True, help="Remove the site's persons and plates the ledger no longer has.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def office_import(ctx, ledger, site_id, strict, dry_run, remove_gone, as_json):
    """Bring a site's residents in line with its ledger (台账, CSV or XLSX).

    The header row may sit below title rows; Chinese headers in their usual wordings are read
    (docs/ledger.md lists them), every other column is reported. Lists new, changed and gone
    persons; every refused row is reported with its line. Exit status 1 when a row is refused.

    \b
    Example:
        kiosk office import 金岸台账.xlsx --site jinan --dry-run
        kiosk office import 金岸台账.xlsx --site jinan --remove-gone
    """
    office = open_office(ctx)
    report = ledger_mod.import_ledger(office, ledger, site_id, now(), strict, dry_run, remove_gone)
    zone = ZoneInfo(office.config["timezone"])
    if as_json:
        click.echo(json.dumps(ledger_report.as_json(report, zone), ensure_ascii=False, indent=1))
    else:
        for line in ledger_report.lines(report, str(ledger), zone):
            click.echo(line.text, err=line.to_stderr)
    ctx.exit(1 if report.refusals else 0)


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
    """Issue signed passes to those without a valid one: tokens.tsv and a QR image each.

    A subject that holds a valid pass is skipped (replace it with `office pass reissue`), so
    running it twice never doubles passes; a subject that cannot have one (not in the
    registry, another compound) is reported and the others still get theirs (exit status 1).

    \b
    Example:
        kiosk office issue --site jinan --person R001 --days 30 --out passes/
        kiosk office issue --site jinan --all --out passes/
    """
    office = open_office(ctx)
    wanted = pass_book.everyone(office, site_id) if everyone else \
        [("resident", p) for p in persons] + [("vehicle", normalise_plate(v)) for v in vehicles]
    if not wanted:
        raise click.UsageError(t("cli.name_subjects"))
    out.mkdir(parents=True, exist_ok=True)
    with open_private(out / "tokens.tsv", "a", encoding="utf-8") as listing:  # bearer passes
        report = pass_book.issue_missing(office, site_id, wanted, now(), days,
                                         on_issued=lambda issued: _save_pass(issued, out, fmt, listing))
    for kind, subject, held in report.held:
        say("passes.held", err=True, kind=t(f"passes.kind.{kind}"), subject=subject, pass_id=held)
    for _, _, exc in report.refused:
        say("passes.refused", err=True, reason=exc)
    say("passes.issue_summary", err=True, issued=len(report.issued), held=len(report.held),
        refused=len(report.refused))
    ctx.exit(1 if report.refused else 0)


def _save_pass(issued: office_mod.IssuedPass, out: Path, fmt: str, listing) -> None:
    """The pass's QR image and its tokens.tsv line; its id on standard output."""
    office_mod.write_qr(issued.token, out / f"{issued.pass_id}.{fmt}", fmt)
    listing.write(f"{issued.pass_id}\t{issued.subject_kind}\t{issued.subject_id}\t{issued.token}\n")
    listing.flush()
    click.echo(f"{issued.pass_id}\t{issued.subject_kind}\t{issued.subject_id}")


@office_group.command("revoke")
@click.argument("pass_id")
@click.option("--block", is_flag=True, help="Block (temporarily) instead of revoking.")
@click.option("--reason", default="")
@click.pass_context
def office_revoke(ctx, pass_id, block, reason):
    """Revoke or block a pass; gates learn it with the next bundle.

    \b
    Example:
        kiosk office revoke P1A2B3C4D5 --reason 遗失
    """
    office_mod.set_pass_status(open_office(ctx), pass_id, "blocked" if block else "revoked", reason)
    say("cli.pass_blocked" if block else "cli.pass_revoked", pass_id=pass_id)


@office_group.command("bundle")
@click.option("--site", "site_id", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def office_bundle(ctx, site_id, out):
    """Write the next signed registry bundle for a site.

    \b
    Example:
        kiosk office bundle --site jinan --out /media/usb/registry.bundle
    """
    version, path = office_mod.write_bundle(open_office(ctx), site_id, now(), out)
    say("cli.bundle_written", version=version, site=site_id, path=path)


@office_group.command("public-key")
@click.pass_context
def office_public_key(ctx):
    """Print the office public key line for `kiosk init --trust-key`.

    \b
    Example:
        kiosk office public-key > office-public-key.txt
    """
    click.echo(open_office(ctx).public_key())


# --- registry upkeep: persons, households, risk areas ------------------------------------

def _zone(office: Office) -> ZoneInfo:
    return ZoneInfo(office.config["timezone"])


def _today(office: Office) -> date:
    return now().astimezone(_zone(office)).date()


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


def _echo_persons(office: Office, found: list[residents.Resident], as_json: bool) -> None:
    if as_json:
        _echo_json([listing.person_json(p, _zone(office)) for p in found])
    else:
        for person in found:
            click.echo(listing.person_line(person, _zone(office)))


def _typed_day(office: Office, text: str | None) -> date | None:
    try:
        return ledger_fields.day(text, _today(office)) if text else None
    except ledger_fields.CellError as exc:
        raise click.BadParameter(t("ledger.refused.bad_date", value=text)) from exc


@office_group.group("person")
def person_group():
    """Residents one at a time: list, show, search, add, remove, set a health status.

    \b
    Example:
        kiosk office person search 张三
    """


@person_group.command("list")
@click.option("--site", "site_id", help="Only this compound.")
@click.option("--household", help="Only this household (e.g. jinan:1-3-301).")
@click.option("--status", help="Only this health status (e.g. 居家隔离 or home_isolation).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_list(ctx, site_id, household, status, as_json):
    """List residents: id, name, address, phone, health, cadre, masked identity number.

    \b
    Example:
        kiosk office person list --site jinan --status 居家隔离
    """
    office = open_office(ctx)
    found = residents.residents(office.db, site_id)
    if household:
        found = [p for p in found if p.household_id == household]
    if status:
        wanted = _status(status)
        found = [p for p in found if p.health == wanted]
    _echo_persons(office, found, as_json)


@person_group.command("show")
@click.argument("person_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_show(ctx, person_id, as_json):
    """Show one resident.

    \b
    Example:
        kiosk office person show R001 --json
    """
    office = open_office(ctx)
    _echo_persons(office, [residents.resident(office.db, person_id)], as_json)


@person_group.command("search")
@click.argument("text")
@click.option("--site", "site_id", help="Only this compound.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_search(ctx, text, site_id, as_json):
    """Find residents by id, part of a name, phone, plate, or a whole identity number.

    \b
    Example:
        kiosk office person search 张三
        kiosk office person search 陕HB6550
    """
    office = open_office(ctx)
    key = identity.identity_key(office.config.keys_dir)
    _echo_persons(office, residents.search(office.db, ledger_fields.text(text), key, site_id), as_json)


@person_group.command("set-status")
@click.argument("person_id")
@click.argument("status")
@click.option("--until", help="Last day of the measure (2026-12-14, 12月14日...).")
@click.option("--cadre", help="The cadre who follows the person (包联干部).")
@click.option("--cadre-phone", help="The cadre's phone.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_set_status(ctx, person_id, status, until, cadre, cadre_phone, as_json):
    """Change one resident's health status; gates learn it with the next bundle.

    STATUS: 正常, 健康监测, 居家隔离, 集中隔离 (or normal, health_monitoring, home_isolation,
    central_quarantine). The measure lasts to the end of the --until day.

    \b
    Example:
        kiosk office person set-status R001 居家隔离 --until 2026-12-14 --cadre 王主任 --cadre-phone 13900000000
    """
    office = open_office(ctx)
    last_day = _typed_day(office, until)
    ends = ledger_mod.day_start(last_day + timedelta(days=1), _zone(office)) if last_day else None
    changed = residents.set_health(office.db, person_id, _status(status), now(), ends, cadre,
                                   ledger_fields.phone(cadre_phone) if cadre_phone else None)
    _echo_persons(office, [changed], as_json)


def _status(wording: str) -> str:
    try:
        return ledger_fields.health(ledger_fields.text(wording))
    except ledger_fields.CellError as exc:
        raise click.BadParameter(t("ledger.refused.bad_health", value=wording)) from exc


@person_group.command("add")
@click.option("--site", "site_id", required=True)
@click.option("--name", required=True)
@click.option("--building", required=True)
@click.option("--unit", required=True)
@click.option("--room", required=True)
@click.option("--id", "person_id", help="The person's id (default: derived as the ledger import does).")
@click.option("--phone")
@click.option("--id-number", "number", help="Identity number (kept as a keyed hash, shown masked).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_add(ctx, site_id, name, building, unit, room, person_id, phone, number, as_json):
    """Add one resident (someone who moved in since the last ledger).

    \b
    Example:
        kiosk office person add --site jinan --name 张三 --building 1号楼 --unit 3单元 --room 301 --phone 13700000001
    """
    office = open_office(ctx)
    cells = {"id": person_id, "name": name, "building": building, "unit": unit, "room": room, "phone": phone,
             "identity": number}
    try:
        person, _ = ledger_mod.resident_from_cells(cells, site_id, office, now())
    except ledger_mod.RowRefused as exc:
        raise click.ClickException(exc.text()) from exc
    residents.add_resident(office.db, person)
    _echo_persons(office, [residents.resident(office.db, person.person_id)], as_json)


@person_group.command("remove")
@click.argument("person_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def person_remove(ctx, person_id, as_json):
    """Remove a resident who moved out; their passes are revoked.

    \b
    Example:
        kiosk office person remove R001
    """
    revoked = residents.remove_person(open_office(ctx).db, person_id, "moved out")
    if as_json:
        _echo_json({"removed": person_id, "revoked_passes": revoked})
    else:
        say("ledger.person_removed", person_id=person_id, revoked=revoked)


@office_group.group("household")
def household_group():
    """Households (户): list, show, search.

    \b
    Example:
        kiosk office household list --site jinan
    """


@household_group.command("list")
@click.option("--site", "site_id", help="Only this compound.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def household_list(ctx, site_id, as_json):
    """List households with how many persons and vehicles each has.

    \b
    Example:
        kiosk office household list --site jinan
    """
    _echo_households(residents.households(open_office(ctx).db, site_id), as_json)


@household_group.command("search")
@click.argument("text")
@click.option("--site", "site_id", help="Only this compound.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def household_search(ctx, text, site_id, as_json):
    """Find households by part of their id (building-unit-room) or a member's name.

    \b
    Example:
        kiosk office household search 1-3-301
    """
    _echo_households(residents.households(open_office(ctx).db, site_id, ledger_fields.text(text)), as_json)


def _echo_households(rows: list[dict], as_json: bool) -> None:
    if as_json:
        _echo_json(rows)
    else:
        for row in rows:
            click.echo(listing.household_line(row))


@household_group.command("show")
@click.argument("household_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def household_show(ctx, household_id, as_json):
    """Show a household: its members and plates.

    \b
    Example:
        kiosk office household show jinan:1-3-301
    """
    office = open_office(ctx)
    found = residents.household(office.db, household_id)
    if as_json:
        _echo_json({**found, "members": [listing.person_json(p, _zone(office)) for p in found["members"]]})
        return
    click.echo(listing.household_line({**found, "persons": len(found["members"]), "vehicles": len(found["plates"])}))
    for person in found["members"]:
        click.echo("  " + listing.person_line(person, _zone(office)))
    for plate in found["plates"]:
        click.echo("  " + t("ledger.vehicle", plate=plate))


@office_group.group("risk-area")
def risk_area_group():
    """The risk-area list that returnee registration at the gates chooses from (goes out with bundles).

    \b
    Example:
        kiosk office risk-area import 风险地区.xlsx
    """


@risk_area_group.command("import")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only show what the list would be.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def risk_area_import(ctx, table, dry_run, as_json):
    """Replace the list with a CSV or XLSX table: 地区, 风险等级 (低/中/高), 日期 [, 区划代码].

    Nothing changes when a row is refused (exit status 1).

    \b
    Example:
        kiosk office risk-area import 风险地区.xlsx
    """
    office = open_office(ctx)
    result = risk_areas.import_list(office.db, table, _today(office), dry_run)
    if as_json:
        _echo_json({"areas": result.areas, "ignored_columns": [{"column": c, "header": h} for c, h in result.ignored],
                    "refused": [{"line": line, "reason": t(key, value=value)} for line, key, value in result.refusals],
                    "applied": not dry_run and not result.refusals})
    else:
        for column, header in result.ignored:
            click.echo(t("ledger.ignored_column", column=column, header=header))
        for line, key, value in result.refusals:
            click.echo(f"{table}:{line}: {t(key, value=value)}", err=True)
        for area in result.areas:
            click.echo(listing.area_line(area))
        say("ledger.areas_loaded" if not dry_run and not result.refusals else "ledger.areas_not_loaded",
            count=len(result.areas))
    ctx.exit(1 if result.refusals else 0)


@risk_area_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def risk_area_list(ctx, as_json):
    """List the risk areas.

    \b
    Example:
        kiosk office risk-area list --json
    """
    _echo_areas(risk_areas.areas(open_office(ctx).db), as_json)


def _echo_areas(areas: list[dict], as_json: bool) -> None:
    if as_json:
        _echo_json(areas)
    else:
        for area in areas:
            click.echo(listing.area_line(area))


@risk_area_group.command("set")
@click.argument("code")
@click.argument("level")
@click.option("--name", help="The area's name (default: the code).")
@click.option("--date", "listed_on", help="The list's date (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def risk_area_set(ctx, code, level, name, listed_on, as_json):
    """Add an area or change its level: LEVEL is 低/中/高 (or low/medium/high).

    \b
    Example:
        kiosk office risk-area set 610113 高 --name 西安市雁塔区 --date 2026-12-01
    """
    office = open_office(ctx)
    area = risk_areas.set_area(office.db, code, level, _today(office), name, _typed_day(office, listed_on))
    _echo_areas([area], as_json)


@risk_area_group.command("clear")
@click.argument("code", required=False)
@click.option("--all", "everything", is_flag=True, help="Clear the whole list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def risk_area_clear(ctx, code, everything, as_json):
    """Remove one area, or with --all every area.

    \b
    Example:
        kiosk office risk-area clear 610113
    """
    if bool(code) == everything:
        raise click.UsageError(t("ledger.clear_what"))
    removed = risk_areas.clear(open_office(ctx).db, None if everything else code)
    if as_json:
        _echo_json({"removed": removed})
    else:
        say("ledger.areas_cleared", count=removed)
