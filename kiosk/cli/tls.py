"""The gate's TLS certificate: ``kiosk tls show`` and ``kiosk tls rotate``."""

from __future__ import annotations

import click

from kiosk.cli.context import open_gate
from kiosk.core.i18n import say, t
from kiosk.core.transport import shown
from kiosk.store import tls


@click.group("tls")
def tls_group():
    """This gate's TLS certificate, which the office pins by its SHA-256 fingerprint.

    \b
    Example:
        kiosk tls show
    """


@tls_group.command("show")
@click.pass_context
def tls_show(ctx):
    """Print the certificate's SHA-256 fingerprint for `kiosk office gate add --fingerprint`.

    \b
    Example:
        kiosk tls show
    """
    click.echo(shown(tls.ensure_certificate(open_gate(ctx).config)))


@tls_group.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@click.pass_context
def tls_rotate(ctx, yes):
    """Replace the key and certificate; the office must then pin the new fingerprint.

    Restart `kiosk serve` (systemctl restart kiosk-web) to serve the new certificate.

    \b
    Example:
        kiosk tls rotate --yes
    """
    gate = open_gate(ctx)
    if not yes:
        click.confirm(t("tls.rotate_confirm"), abort=True)
    fingerprint = tls.rotate(gate.config)
    say("tls.rotated", err=True)
    click.echo(shown(fingerprint))
