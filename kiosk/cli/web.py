"""CLI commands for the web page: ``kiosk serve`` and ``kiosk web-user add``."""

from __future__ import annotations

import click

from kiosk.core.i18n import t
from kiosk.gate.service import Gate
from kiosk.store import web_users
from kiosk.store.config import load_config
from web.serve import DEFAULT_THREADS, serve


@click.command("serve")
@click.option("--host", help="Address to listen on (default: web.host in kiosk.toml, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: web.port in kiosk.toml, 8000).")
@click.option("--threads", type=int, default=DEFAULT_THREADS, show_default=True,
              help="Worker threads; each open guard screen holds one for its live stream.")
@click.pass_context
def serve_cmd(ctx, host, port, threads):
    """Serve the guard screen, guard actions and office pages with waitress.

    \b
    Example:
        kiosk serve --host 0.0.0.0 --port 8000
    """
    web = load_config(ctx.obj).settings.web
    host, port = host or web.host, port or web.port
    click.echo(t("web.cli.serving", host=host, port=port, home=ctx.obj))
    serve(ctx.obj, host, port, threads)


@click.group("web-user")
def web_user_group():
    """Office logins for the web page (office pages are read-only).

    \b
    Example:
        kiosk web-user add office1 --role office
    """


@web_user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(web_users.ROLES), default="office", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="KIOSK_PASSWORD",
              help="Prompted when not given ($KIOSK_PASSWORD also works).")
@click.pass_context
def web_user_add(ctx, name, role, password):
    """Add an office login (password stored as a salted scrypt hash).

    \b
    Example:
        kiosk web-user add office1 --role office
    """
    with Gate.open(ctx.obj) as gate:
        web_users.add_user(gate.db, name, role, password)
    click.echo(t("web.cli.user_added", name=name, role=role))


@web_user_group.command("remove")
@click.argument("name")
@click.pass_context
def web_user_remove(ctx, name):
    """Remove an office login; its open sessions end at once.

    \b
    Example:
        kiosk web-user remove office1
    """
    with Gate.open(ctx.obj) as gate:
        web_users.remove_user(gate.db, name)
    click.echo(t("security.user_removed", name=name))
