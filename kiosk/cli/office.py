"""Office commands: the registry ledger, passes and bundles; with the office half of sync."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.cli import sync
from kiosk.cli.context import now, open_office
from kiosk.core.i18n import say, t
from kiosk.core.plates import normalise_plate
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.store.config import create_home, open_private

# --- office ----------------------------------------------------------------------------

@click.group("office", commands=[sync.office_gate_group, sync.office_pull, sync.office_push, sync.office_report,
                                 sync.office_import_events])
def office_group():
    """The community office: registry, passes, bundles; pulls from gates and reports.

    \b
    Example:
        kiosk --home office-data office bundle --site jinan --out registry.bundle
    """


@office_group.command("init")
@click.option("--site", "sites", multiple=True, required=True, help="A compound id (repeatable).")
@click.pass_context
def office_init(ctx, sites):
    """Create an office data folder and its Ed25519 signing key.

    Prints the public key line that gates must trust.

    \b
    Example:
        kiosk --home office-data office init --site jinan --site longhai
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

    \b
    Example:
        kiosk office import 金岸台账.xlsx --site jinan --strict
    """
    report = ledger_mod.import_ledger(open_office(ctx), ledger, site_id, now(), strict)
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

    \b
    Example:
        kiosk office issue --site jinan --person R001 --days 30 --out passes/
    """
    office = open_office(ctx)
    wanted = office_mod.subjects(office, site_id, ("resident", "vehicle")) if everyone else \
        [("resident", p) for p in persons] + [("vehicle", normalise_plate(v)) for v in vehicles]
    if not wanted:
        raise click.UsageError(t("cli.name_subjects"))
    out.mkdir(parents=True, exist_ok=True)
    with open_private(out / "tokens.tsv", "a", encoding="utf-8") as listing:  # bearer passes
        for kind, subject in wanted:
            issued = office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id=site_id,
                                           now=now(), days=days)
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
