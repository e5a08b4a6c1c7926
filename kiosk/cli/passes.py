"""Office commands for the pass lifecycle: find, unblock and reissue passes, rotate the signing
key, visitor passes and printed pass cards. (Registered in the office group, kiosk.cli.office.)"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from kiosk.cli.context import now, open_office
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.i18n import say, t
from kiosk.core.plates import normalise_plate
from kiosk.office import cards as cards_mod
from kiosk.office import pass_book
from kiosk.office import service as office_mod
from kiosk.office import visitors as visitors_mod
from kiosk.store.settings import ConfigError

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=1))


def _status(row: dict, moment: datetime) -> str:
    """The pass's status as a person means it: an active pass past its end is expired."""
    return "expired" if row["status"] == "active" and row["valid_until"] <= utc_text(moment) else row["status"]


def _local(text: str, office) -> str:
    return parse_utc(text).astimezone(ZoneInfo(office.config["timezone"])).strftime("%Y-%m-%d %H:%M")


# --- office pass -------------------------------------------------------------------------

@click.group("pass")
def pass_group():
    """Find passes, lift a block, reissue a pass.

    \b
    Example:
        kiosk office pass list --household jinan:1-1-101
    """


@pass_group.command("list")
@click.option("--person", help="A resident's id.")
@click.option("--household", help="A household id (its residents, vehicles and visitors).")
@click.option("--plate", help="A vehicle's plate, as typed (normalised).")
@click.option("--site", "site_id", help="Only this compound's passes.")
@JSON_OPTION
@click.pass_context
def pass_list(ctx, person, household, plate, site_id, as_json):
    """List passes by person, household or plate, newest first.

    \b
    Example:
        kiosk office pass list --plate "陕h 12345" --json
    """
    if not (person or household or plate or site_id):
        raise click.UsageError(t("passes.name_one"))
    office, moment = open_office(ctx), now()
    rows = pass_book.find_passes(office, person=person, household=household, plate=plate, site_id=site_id)
    reports = _face_reports(office, [row["id"] for row in rows])
    for row in rows:
        row["state"] = _status(row, moment)
        row["face_mismatches"] = None if reports is None else reports.get(row["id"], [])
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        say("passes.none_found")
        return
    say("passes.list_header")
    for row in rows:
        click.echo("\t".join([row["id"], t(f"passes.kind.{row['subject_kind']}"), row["subject_id"],
                              row["name"] or "-", row["household_id"] or "-", _local(row["valid_until"], office),
                              t(f"passes.status.{row['state']}")]))
        _echo_face_reports(row)


@pass_group.command("show")
@click.argument("pass_id")
@JSON_OPTION
@click.pass_context
def pass_show(ctx, pass_id, as_json):
    """Show one pass: its holder, household, validity and status.

    \b
    Example:
        kiosk office pass show P1A2B3C4D5
    """
    office = open_office(ctx)
    row = pass_book.get_pass(office, pass_id)
    row["state"] = _status(row, now())
    reports = _face_reports(office, [row["id"]])
    row["face_mismatches"] = None if reports is None else reports.get(row["id"], [])
    if as_json:
        _echo_json(row)
        return
    address = t("passes.card.address", building=row["building"], unit=row["unit"], room=row["room"]) \
        if row["building"] else "-"
    say("passes.show", id=row["id"], kind=t(f"passes.kind.{row['subject_kind']}"), subject=row["subject_id"],
        name=row["name"] or "-", household=row["household_id"] or "-", address=address, site=row["site_id"],
        start=_local(row["valid_from"], office), end=_local(row["valid_until"], office),
        status=t(f"passes.status.{row['state']}"), reason=f" ({row['reason']})" if row["reason"] else "")
    _echo_face_reports(row)


def _face_reports(office, pass_ids: list[str]) -> dict[str, list[dict]] | None:
    """The passes' face-mismatch marks, or None (said on stderr) while a district office's
    database is away: the pass book itself is in office.db and is shown all the same."""
    try:
        return pass_book.face_reports(office, pass_ids)
    except ConfigError as exc:
        if exc.code != "store_unreachable":
            raise
        click.echo(t("passes.face_reports_unavailable"), err=True)
        return None


def _echo_face_reports(row: dict) -> None:
    """The pass's mark for the office's attention: each face mismatch a gate reported."""
    for report in row["face_mismatches"] or []:
        click.echo("! " + t("face_check.reported", gate=report["gate"], time=report["time"]))


@pass_group.command("unblock")
@click.argument("pass_id")
@click.pass_context
def pass_unblock(ctx, pass_id):
    """Lift a block (`office revoke --block`); gates learn it with the next bundle.

    \b
    Example:
        kiosk office pass unblock P1A2B3C4D5
    """
    office_mod.unblock_pass(open_office(ctx), pass_id)
    say("passes.unblocked", pass_id=pass_id)


@pass_group.command("reissue")
@click.option("--site", "site_id", required=True)
@click.option("--person", help="A resident's id.")
@click.option("--vehicle", help="A vehicle's plate.")
@click.option("--days", type=float, default=30, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.pass_context
def pass_reissue(ctx, site_id, person, vehicle, days, out, fmt):
    """Issue a new pass to a resident or vehicle and revoke its earlier ones, in one step.

    \b
    Example:
        kiosk office pass reissue --site jinan --person R001 --out passes/
    """
    if bool(person) == bool(vehicle):
        raise click.UsageError(t("cli.name_subjects"))
    kind, subject = ("resident", person) if person else ("vehicle", normalise_plate(vehicle))
    issued = office_mod.issue_pass(open_office(ctx), subject_kind=kind, subject_id=subject, site_id=site_id,
                                   now=now(), days=days, replace=True)
    out.mkdir(parents=True, exist_ok=True)
    office_mod.write_qr(issued.token, out / f"{issued.pass_id}.{fmt}", fmt)
    with (out / "tokens.tsv").open("a", encoding="utf-8") as listing:
        listing.write(f"{issued.pass_id}\t{kind}\t{subject}\t{issued.token}\n")
    say("passes.reissued", pass_id=issued.pass_id, subject=subject)


# --- office key ----------------------------------------------------------------------------

@click.group("key")
def key_group():
    """The office's signing key.

    \b
    Example:
        kiosk office key rotate
    """


@key_group.command("rotate")
@click.pass_context
def key_rotate(ctx):
    """Make a new signing key; the old one stays trusted by the gates until its passes expire.

    New passes and bundles are signed with the new key; bundles carry both public keys and are
    endorsed by the old key, so a gate that trusts only the old key loads them and learns the new one.

    \b
    Example:
        kiosk office key rotate
    """
    office = open_office(ctx)
    rotation = office_mod.rotate_key(office, now())
    say("passes.key_rotated", new=rotation.new_key_id, old=rotation.old_key_id,
        until=_local(rotation.carry_until, office), public=rotation.new_public_key)


# --- office visitor ------------------------------------------------------------------------

@click.group("visitor")
def office_visitor_group():
    """Temporary passes for visitors.

    \b
    Example:
        kiosk office visitor issue --site jinan --name 王芳 --household jinan:1-1-101 --hours 4 --out v/
    """


@office_visitor_group.command("issue")
@click.option("--site", "site_id", required=True)
@click.option("--name", required=True, help="The visitor's name.")
@click.option("--phone", default="", help="The visitor's phone.")
@click.option("--household", "household_id", required=True, help="The host household's id.")
@click.option("--purpose", default="", help="探亲, 维修, ...")
@click.option("--hours", type=float, default=4, show_default=True, help="How long the pass is valid.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.pass_context
def office_visitor_issue(ctx, site_id, name, phone, household_id, purpose, hours, out):
    """Issue a visitor pass (QR image in --out); gates learn it with the next bundle.

    \b
    Example:
        kiosk office visitor issue --site jinan --name 王芳 --household jinan:1-1-101 --purpose 探亲 --out v/
    """
    office = open_office(ctx)
    issued = visitors_mod.issue_visitor(office, site_id=site_id, name=name, phone=phone, household_id=household_id,
                                        purpose=purpose, hours=hours, now=now())
    out.mkdir(parents=True, exist_ok=True)
    office_mod.write_qr(issued.token, out / f"{issued.pass_id}.png")
    row = office.db["passes"].get(issued.pass_id)
    say("passes.visitor_issued", pass_id=issued.pass_id, name=name, household=household_id,
        until=_local(row["valid_until"], office))


# --- office cards ----------------------------------------------------------------------------

@click.command("cards")
@click.option("--site", "site_id", required=True)
@click.option("--household", help="Only this household's passes.")
@click.option("--name", "compound", help="The compound's name as printed (default: the site id).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def cards_cmd(ctx, site_id, household, compound, out):
    """Print pass cards: A4 sheets of 8 cards with cut marks, one card per valid pass.

    Each card has the QR code, the compound's name, the masked name (or plate),
    building-unit-room, the kind of pass, its validity and the pass id.

    \b
    Example:
        kiosk office cards --site jinan --name 金岸小区 --household jinan:1-1-101 --out cards.pdf
    """
    cards = cards_mod.cards_for(open_office(ctx), site_id, now(), household)
    if not cards:
        say("passes.no_cards", err=True)
        ctx.exit(1)
    pages = cards_mod.write_cards(cards, compound or site_id, out)
    say("passes.cards_written", count=len(cards), pages=pages, path=out)


COMMANDS = (pass_group, key_group, office_visitor_group, cards_cmd)
