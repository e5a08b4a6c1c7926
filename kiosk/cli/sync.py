"""Sync commands: on the gate API tokens, USB export and pruning; in the office gates, pull, push, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import requests

from kiosk.cli.context import now, open_gate, open_office
from kiosk.core import protocol
from kiosk.core.i18n import say, t
from kiosk.core.shifts import shift_defs
from kiosk.core.transport import shown
from kiosk.gate import sync_feed, usb_export
from kiosk.office import pinning, pull, reports, usb_import
from kiosk.store import tokens
from kiosk.store.config import open_private
from kiosk.store.levels import LEVELS, Levels
from web import daily_report

MAX_PULL_WORKERS = 64  # threads, each with a connection and up to a batch of events in memory


# --- gate: tokens, export, prune -------------------------------------------------------

@click.group("token")
def token_group():
    """Bearer tokens for the office's access to this gate's sync API.

    \b
    Example:
        kiosk token create --role office --name office-pc
    """


@token_group.command("create")
@click.option("--role", type=click.Choice(tokens.ROLES), default="office", show_default=True)
@click.option("--name", help="Who holds it, e.g. the office PC.")
@click.pass_context
def token_create(ctx, role, name):
    """Create a token and print it once (only its hash is kept).

    \b
    Example:
        kiosk token create --role office --name 社区办公室
    """
    token_id, secret = tokens.create_token(open_gate(ctx).db, role, name, now())
    say("sync.token_created", err=True, token_id=token_id, role=role)
    click.echo(secret)


@token_group.command("list")
@click.pass_context
def token_list(ctx):
    """List tokens (never their secrets).

    \b
    Example:
        kiosk token list
    """
    for row in tokens.list_tokens(open_gate(ctx).db):
        state = t("sync.token_revoked_at", at=row["revoked_at"]) if row["revoked_at"] else t("sync.token_active")
        used = t("sync.last_used", at=row["last_used_at"] or t("sync.never"))
        click.echo(f"{row['id']}\t{row['role']}\t{row['name'] or '-'}\t{row['created_at']}\t{used}\t{state}")


@token_group.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx, token_id):
    """Revoke a token at once.

    \b
    Example:
        kiosk token revoke T1A2B3C4
    """
    tokens.revoke_token(open_gate(ctx).db, token_id, now())
    say("sync.token_revoked", token_id=token_id)


@click.command("export")
@click.option("--since", type=int, default=0, show_default=True, help="Export the events after this seq.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def export_cmd(ctx, since, out):
    """Write a signed, chain-verifiable file of events for the office (USB fallback).

    \b
    Example:
        kiosk export --since 0 --out /media/usb/jinan-gate.events
    """
    gate = open_gate(ctx)
    info = usb_export.export_events(gate, since, out, now())
    say("sync.exported", count=info["count"], first=since + 1, last=info["last_seq"], out=out)


@click.command("export-key")
@click.pass_context
def export_key_cmd(ctx):
    """Print this gate's export public key for `kiosk office gate add --export-key`.

    \b
    Example:
        kiosk export-key > jinan-gate-export-key.txt
    """
    click.echo(usb_export.export_public_key(open_gate(ctx)))


@click.command("prune")
@click.option("--retention-days", type=float, help="Override sync.retention_days from kiosk.toml.")
@click.pass_context
def prune_cmd(ctx, retention_days):
    """Delete events the office acknowledged and that are older than the retention.

    Unacknowledged events are never deleted, whatever the retention.

    \b
    Example:
        kiosk prune --retention-days 30
    """
    gate = open_gate(ctx)
    days = gate.config.settings.sync.retention_days if retention_days is None else retention_days
    if not gate.clock.synchronised():  # "older than the retention" means nothing on a wrong clock
        raise click.ClickException(t("resilience.prune.clock_unsynchronised"))
    say("sync.pruned", count=sync_feed.prune(gate.db, now(), float(days)))


# --- office ----------------------------------------------------------------------------

@click.group("gate")
def office_gate_group():
    """The gates this office pulls from.

    \b
    Example:
        kiosk office gate add jinan-gate --url https://192.168.1.20:8443 --fingerprint AB:CD:... --token kt_...
    """


@office_gate_group.command("add")
@click.argument("name")
@click.option("--url", default="", help="The gate's HTTPS address, e.g. https://192.168.1.20:8443 "
                                        "(plain http:// only to this machine).")
@click.option("--fingerprint", help="The gate's certificate fingerprint (`kiosk tls show` or the gate's screen).")
@click.option("--token", default="", help="A token from `kiosk token create` on the gate.")
@click.option("--export-key", help="The gate's `kiosk export-key` line (else read from the gate over its token).")
@click.pass_context
def office_gate_add(ctx, name, url, fingerprint, token, export_key):
    """Add or update a gate by name, URL, certificate fingerprint and token.

    \b
    Example:
        kiosk office gate add jinan-gate --url https://192.168.1.20:8443 --fingerprint AB:CD:... --token kt_...
    """
    if url:
        fingerprint = pinning.check_address(url, fingerprint)
    office = open_office(ctx)
    pull.add_gate(office, name, url, token, export_key)
    if fingerprint:
        pinning.pin(office, name, fingerprint)
    say("sync.gate_saved", name=name)
    try:
        pinned = pull.pin_export_key(office, name)
    except (protocol.SyncError, requests.RequestException) as exc:
        pinned, problem = None, str(exc)
    else:
        problem = t("security.gate_gave_no_export_key")
    say("security.export_key_pinned" if pinned else "security.export_key_not_yet_pinned", err=not pinned,
        name=name, problem=problem)


@office_gate_group.command("pin")
@click.argument("name")
@click.argument("fingerprint")
@click.pass_context
def office_gate_pin(ctx, name, fingerprint):
    """Pin the gate's new certificate after `kiosk tls rotate` there (compare with its screen first).

    \b
    Example:
        kiosk office gate pin jinan-gate AB:CD:...
    """
    say("tls.pinned", name=name, fingerprint=shown(pinning.pin(open_office(ctx), name, fingerprint)))


@office_gate_group.command("list")
@click.pass_context
def office_gate_list(ctx):
    """List gates with their last seq, last contact, clock offset and chain state.

    \b
    Example:
        kiosk office gate list
    """
    for gate in pull.chosen_gates(open_office(ctx), []):
        offset = "-" if gate["clock_offset_s"] is None else f"{gate['clock_offset_s']:+.3f}s"
        chain = t("sync.chain_broken", detail=gate["chain_broken"]) if gate["chain_broken"] else t("sync.chain_ok")
        click.echo(f"{gate['name']}\t{gate['url'] or '-'}\tseq {gate['last_seq']}\t"
                   f"{gate['last_contact_utc'] or t('sync.never')}\t{t('sync.offset', offset=offset)}\t{chain}")


@office_gate_group.command("reset-chain")
@click.argument("name")
@click.pass_context
def office_gate_reset(ctx, name):
    """Accept pulls again after a chain break has been looked into.

    \b
    Example:
        kiosk office gate reset-chain jinan-gate
    """
    pull.reset_chain(open_office(ctx), name)
    say("sync.chain_reset", name=name)


@click.command("pull")
@click.argument("names", nargs=-1)
@click.option("--batch", type=click.IntRange(1, protocol.MAX_LIMIT), default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(1, MAX_PULL_WORKERS),
              help="Gates pulled at the same time (default: sync.pull_workers in kiosk.toml, 8).")
@click.option("--verbose", "-v", is_flag=True, help="Print the summary even when not on a terminal.")
@click.pass_context
def office_pull(ctx, names, batch, workers, verbose):
    """Pull new events and shift logs from every gate (or the named ones), verify, store, acknowledge.

    Several gates are pulled at once (--workers); a gate that fails does not stop the others.
    Exit status 0 when every gate pulled fine, 1 when a gate was unreachable or a chain broke.
    Quiet unless something is wrong when not on a terminal (for the systemd timer).

    \b
    Example:
        kiosk office pull jinan-gate
        kiosk office pull --workers 16
    """
    office = open_office(ctx)
    sync_settings = office.config.settings.sync
    workers = workers or sync_settings.pull_workers
    if not 1 <= workers <= MAX_PULL_WORKERS:
        raise click.ClickException(t("pool.bad_workers", workers=workers, most=MAX_PULL_WORKERS))
    talk = sys.stderr.isatty() or verbose
    started, done = time.monotonic(), []

    def finished(result: pull.PullResult) -> None:
        done.append(result)
        if result.problem:
            mark = "!!! " if result.broken else ""
            click.echo(f"{mark}{result.gate}: {result.problem}", err=True)
        if result.ack_withheld:
            click.echo(f"{result.gate}: {result.ack_withheld}", err=True)
        if talk:
            offset = "-" if result.clock_offset_s is None else f"{result.clock_offset_s:+.3f} s"
            say("sync.pulled" if result.ok else "sync.pulled_failed", gate=result.gate,
                new=result.new_events, last=result.last_seq, offset=offset)

    with pull.pull_lock(office, wait_s=2 * sync_settings.pull_deadline_s):
        pull.pull_gates(office, names, now, batch, workers, finished)
    failed = sum(1 for result in done if not result.ok)
    if talk and len(done) > 1:
        say("pool.summary", gates=len(done), failed=failed, new=sum(result.new_events for result in done),
            seconds=f"{time.monotonic() - started:.1f}")
    ctx.exit(1 if failed else 0)


@click.command("push")
@click.argument("names", nargs=-1)
@click.pass_context
def office_push(ctx, names):
    """Send the current registry bundle to every gate (or the named ones).

    \b
    Example:
        kiosk office push jinan-gate
    """
    failed = False
    for name, problem, detail in pull.push_registry(open_office(ctx), list(names), now()):
        failed = failed or problem is not None
        click.echo(f"{name}: {problem or detail}", err=problem is not None)
    ctx.exit(1 if failed else 0)


@click.command("report")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "html", "xlsx", "pdf"]), default="csv", show_default=True,
              help="html, xlsx, pdf: the day's report for the street office (Chinese); csv: the shift rows.")
@click.option("--site", help="Only this compound (html, xlsx, pdf; default every compound of the office).")
@click.option("--level", type=click.Choice(LEVELS), default="site", show_default=True,
              help="html, xlsx, pdf: per compound, per community (its compounds added up) or the whole street.")
@click.option("--community", help="With --level community: only this community.")
@click.option("--shift", "shift_no", type=int, help="csv: shift number as configured: 1 早班, 2 中班, 3 夜班 by default.")
@click.option("--gate", help="csv: only this gate.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File (required for xlsx and pdf).")
@click.pass_context
def office_report(ctx, day, fmt, site, level, community, shift_no, gate, out):
    """The day's report from the events the office pulled, or the shift rows as CSV.

    The daily report (html printable, xlsx, pdf) is the office page's: passages in and out,
    fever refusals and their follow-up, returnees by risk level, persons under isolation or
    monitoring, refusals by reason, overrides, guards on duty per shift, per compound.

    \b
    Example:
        kiosk office report --date 2026-11-29 --format pdf --out 2026-11-29.pdf
    """
    office = open_office(ctx)
    if fmt == "csv":
        rows = reports.report_rows(office, day.date(), shift_no, gate)
        if out is None:
            reports.write_report(rows, click.get_text_stream("stdout"))
        else:
            with open_private(out, "w", encoding="utf-8", newline="") as handle:
                reports.write_report(rows, handle)
        return
    if fmt != "html" and out is None:
        raise click.UsageError(t("office_web.cli.needs_out", format=fmt))
    key = {"site": site, "community": community}.get(level) or ""
    report = daily_report.daily_report(office.store, day.date(), Levels.of(office.config),
                                       shift_defs(office.config["shifts"]), office.config["timezone"], level, key)
    body = daily_report.render(report, fmt)
    if out is None:
        click.echo(body, nl=False)  # bytes go to the binary stream
    else:
        with open_private(out, "wb") as handle:  # names of residents: not for every user of the PC
            handle.write(body)


@click.command("import-events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--gate", "gate_name", help="The gate's name here (default: found from the file's gate id).")
@click.pass_context
def office_import_events(ctx, file, gate_name):
    """Import a gate's `kiosk export` file exactly once (signature and chain verified).

    \b
    Example:
        kiosk office import-events /media/usb/jinan-gate.events
    """
    result = usb_import.import_events(open_office(ctx), file, gate_name)
    say("sync.imported", gate=result.gate, new=result.new_events, held=result.already_held, last=result.last_seq)
