"""CLI commands for the web page: ``kiosk serve`` and ``kiosk web-user add``."""

from __future__ import annotations

import click

from kiosk.core.i18n import t
from kiosk.store import web_users
from kiosk.store.config import load_config
from kiosk.store.db import open_db
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
    """Logins for the web page: on a gate the office pages, on an office folder the office's own page.

    \b
    Example:
        kiosk web-user add office1 --role office
    """


@web_user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(sorted({*web_users.ROLES, *web_users.OFFICE_ROLES})), default="office", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="KIOSK_PASSWORD",
              help="Prompted when not given ($KIOSK_PASSWORD also works).")
@click.pass_context
def web_user_add(ctx, name, role, password):
    """Add a login (password stored as a salted scrypt hash).

    A gate folder takes the roles office and supervisor; an office folder office (reads and
    acknowledges alerts) and viewer (reads only).

    \b
    Example:
        kiosk web-user add office1 --role office
    """
    config = load_config(ctx.obj)
    db = open_db(config.db_path, config.role)
    try:
        web_users.add_user(db, name, role, password, config.role)
    finally:
        db.conn.close()
    click.echo(t("web.cli.user_added", name=name, role=role))
