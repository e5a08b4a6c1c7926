"""The ``kiosk`` command line: the root group, its refusals, and the one list of commands.

Every command finds its data folder from ``--home DIR``, else ``$KIOSK_HOME``, else
``~/.local/share/kiosk``, and speaks the root's ``--lang``. Each command's docstring is its
``--help``; the commands live in modules by machine and topic (gate, office, sync, loop, web,
and the device command ``decode`` with the devices).
"""

from __future__ import annotations

import sqlite3

import click

from hardware.cli import decode
from kiosk import __version__
from kiosk.cli import gate, loop, office, sync, tls, visitors, web
from kiosk.core.errors import KioskError
from kiosk.core.i18n import LANGUAGES, t, use_language
from kiosk.store.config import ConfigError, resolve_home

COMMANDS = (
    gate.init, gate.keys_group, gate.registry_group, gate.check, gate.guard_group, gate.events_cmd,
    gate.shifts_cmd, gate.verify_log, gate.log_gap,
    sync.token_group, sync.export_cmd, sync.export_key_cmd, sync.prune_cmd,
    loop.run, loop.doctor, loop.demo, decode,
    web.serve_cmd, web.web_user_group, tls.tls_group,
    office.office_group, visitors.visitor_group,
)


def _refusal(exc: KioskError | ConfigError) -> str:
    """``[code] 中文说明 (detail)``: the catalogue's text for the code, the library's detail after it.

    The detail is left out when it only repeats the English text.
    """
    code, detail = getattr(exc, "code", None), str(exc)
    if not code:
        return detail
    text = t(f"error.{code}")
    if text == f"error.{code}":
        return f"[{code}] {detail}"
    return f"[{code}] {text}" if detail == t(f"error.{code}", "en") else f"[{code}] {text} ({detail})"


class KioskGroup(click.Group):
    """Turns the library's refusals into one clear line and exit status 1; anything else is a bug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ConfigError, KioskError) as exc:
            raise click.ClickException(_refusal(exc)) from exc
        except sqlite3.DatabaseError as exc:  # a damaged or unwritable database: said plainly, never a traceback
            raise click.ClickException(t("resilience.cli.database_error", detail=str(exc))) from exc


@click.group(cls=KioskGroup, commands=COMMANDS)
@click.option("--home", type=click.Path(file_okay=False), envvar="KIOSK_HOME",
              help="Data folder (default: $KIOSK_HOME or ~/.local/share/kiosk).")
@click.option("--lang", type=click.Choice(LANGUAGES), envvar="KIOSK_LANG",
              help="Language of messages: zh (default) or en ($KIOSK_LANG also works).")
@click.version_option(__version__, prog_name="kiosk")
@click.pass_context
def cli(ctx: click.Context, home: str | None, lang: str | None) -> None:
    """Gate checkpoint kiosk: signed passes, temperatures, gate relay, event log.

    \b
    Example:
        kiosk --home /var/lib/kiosk check GP1:... --direction in --temp 36.6
        kiosk --lang en doctor
    """
    ctx.obj = resolve_home(home)
    if lang:
        use_language(lang)
        ctx.call_on_close(lambda: use_language(None))  # in-process callers (tests) keep their own


def main() -> None:
    cli(prog_name="kiosk")
