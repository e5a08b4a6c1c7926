"""The command-line reference, ``docs/cli.md``, made from the real ``--help`` of every command.

Regenerate it after changing a command: ``python -m kiosk.cli.reference > docs/cli.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from kiosk.cli.root import cli

WIDTH = 100  # fixed, so the text does not depend on the terminal that made it
HEADER = """# Command-line reference

Generated from `kiosk ... --help` by `python -m kiosk.cli.reference > docs/cli.md`; do not edit by
hand (a test compares this file with the commands). Every command takes the root options `--home`
and `--lang` before its name, e.g. `kiosk --lang en --home /var/lib/kiosk doctor`.
"""


def helps(command: click.Command, parent: click.Context | None = None,
          name: str = "kiosk") -> Iterator[tuple[str, str]]:
    """(command path, help text) for the command and every command below it, in name order."""
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
    yield ctx.command_path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            yield from helps(command.get_command(ctx, sub_name), ctx, sub_name)


def reference() -> str:
    """The whole of docs/cli.md."""
    sections = [f"## `{path}`\n\n```text\n{text}\n```\n" for path, text in helps(cli)]
    return "\n".join([HEADER, *sections])


if __name__ == "__main__":
    click.echo(reference(), nl=False)
