"""CLI commands for the web page: ``kiosk serve`` and ``kiosk web-user add``."""

from __future__ import annotations

import click

from kiosk.core.i18n import t
from kiosk.core.transport import shown
from kiosk.store import web_users
from kiosk.store.config import load_config
from kiosk.store.db import open_db
from kiosk.store.office_store import open_office_store
from kiosk.store.tls import ensure_certificate
from web.serve import DEFAULT_THREADS, check_plain_host, serve


@click.command("serve")
@click.option("--host", help="Loopback address for plain HTTP, the touchscreen (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, help="Its port (default: web.port in kiosk.toml, 8000).")
@click.option("--tls-host", help="Address for HTTPS, the LAN (default: web.tls_host, 0.0.0.0; '' for none).")
@click.option("--tls-port", type=int, help="Its port (default: web.tls_port in kiosk.toml, 8443).")
@click.option("--threads", type=int, default=DEFAULT_THREADS, show_default=True,
              help="Worker threads; each open guard screen holds one for its live stream.")
@click.pass_context
def serve_cmd(ctx, host, port, tls_host, tls_port, threads):
    """Serve the guard screen, guard actions, office pages and sync API.

    Plain HTTP only on loopback (waitress, for the touchscreen); the LAN gets HTTPS with this
    gate's certificate (cheroot), whose fingerprint the office pins.

    \b
    Example:
        kiosk serve --host 127.0.0.1 --port 8000 --tls-host 0.0.0.0 --tls-port 8443
    """
    config = load_config(ctx.obj)
    web = config.settings.web
    host, port = host or web.host, port or web.port
    tls_host, tls_port = web.tls_host if tls_host is None else tls_host, tls_port or web.tls_port
    check_plain_host(host)
    click.echo(t("web.cli.serving", host=host, port=port, home=ctx.obj))
    if tls_host:
        click.echo(t("tls.serving", host=tls_host, port=tls_port, fingerprint=shown(ensure_certificate(config))))
    serve(ctx.obj, host, port, threads, tls_host, tls_port)


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
    db = open_office_store(config) if config.role == "office" else open_db(config.db_path, config.role)
    try:
        web_users.add_user(db, name, role, password, config.role)
    finally:
        db.conn.close()
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
    config = load_config(ctx.obj)
    db = open_office_store(config) if config.role == "office" else open_db(config.db_path, config.role)
    try:
        web_users.remove_user(db, name)
    finally:
        db.conn.close()
    click.echo(t("security.user_removed", name=name))
