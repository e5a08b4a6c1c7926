"""`kiosk office photo`: holder photos for the guard's face check and the printed cards."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kiosk.cli.context import now, open_office
from kiosk.core.i18n import say, t
from kiosk.office import photos


@click.group("photo")
def photo_group():
    """Holder photos: imported here, sent to the gates in the signed bundle, printed on pass cards.

    \b
    Example:
        kiosk office photo import 照片/
        kiosk office photo import 居民台账.xlsx
        kiosk office photo list --missing --site jinan
        kiosk office photo remove R001
    """


@photo_group.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def photo_import(ctx, source, as_json):
    """Import photos from a FOLDER of JPEG/PNG files named by person id or identity number
    (R001.jpg, 610102195001010016.png), or from the pictures of an XLSX ledger, each on its
    person's row (the row's 编号 or 身份证号 says whose). Each becomes a small thumbnail; a
    refused file is listed with its reason (exit status 1), the others are kept.

    \b
    Example:
        kiosk office photo import 照片/
        kiosk office photo import 居民台账.xlsx --json
    """
    office = open_office(ctx)
    result = photos.import_photos(office.db, office.config.keys_dir, source, now())
    lacking = photos.missing(office.db)
    if as_json:
        click.echo(json.dumps({"imported": result.imported,
                               "refused": [{"source": r.source, "code": r.code, "reason": t(f"error.{r.code}")}
                                           for r in result.refused],
                               "missing": [row["id"] for row in lacking]}, ensure_ascii=False, indent=1))
    else:
        for refusal in result.refused:
            click.echo(f"{refusal.source}: {t(f'error.{refusal.code}')}", err=True)
        say("photos.imported", count=len(result.imported), refused=len(result.refused), missing=len(lacking))
    ctx.exit(1 if result.refused else 0)


@photo_group.command("list")
@click.option("--missing", "only_missing", is_flag=True, help="The persons WITHOUT a photo instead.")
@click.option("--site", "site_id", help="Only this compound.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def photo_list(ctx, only_missing, site_id, as_json):
    """List the persons with a photo (its size and when it was imported), or with --missing those without.

    \b
    Example:
        kiosk office photo list
        kiosk office photo list --missing --site jinan
    """
    office = open_office(ctx)
    if site_id:
        office.check_site(site_id)
    rows = (photos.missing if only_missing else photos.on_file)(office.db, site_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for row in rows:
        click.echo("  ".join(str(row[key]) for key in ("id", "name", "household_id", "bytes", "imported_utc")
                             if key in row))
    say("photos.missing" if only_missing else "photos.on_file", count=len(rows))


@photo_group.command("remove")
@click.argument("person_id")
@click.pass_context
def photo_remove(ctx, person_id):
    """Delete a person's photo; the gates delete theirs when the next bundle loads.

    \b
    Example:
        kiosk office photo remove R001
    """
    if not photos.remove_photo(open_office(ctx).db, person_id):
        raise click.ClickException(t("photos.none", person_id=person_id))
    say("photos.removed", person_id=person_id)
