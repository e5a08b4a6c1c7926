"""One message catalogue for every screen and message: Simplified Chinese by default.

Texts live in ``kiosk/core/locale/<area>.<lang>.json`` (one file per area: core, web,
...; together they form one catalogue per language), keyed by stable identifiers (decision
codes stay English underneath: ``code.fever`` is shown as 体温异常). A missing key
falls back to English, then to the key itself, so a gap is visible, never a crash.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
_LOCALE_DIR = Path(__file__).with_name("locale")


@cache
def catalogue(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    merged: dict[str, str] = {}
    for path in sorted(_LOCALE_DIR.glob(f"*.{language}.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


_chosen: str | None = None  # set once by the command line's --lang


def use_language(choice: str | None) -> None:
    """Make ``choice`` this process's language (the CLI's ``--lang``); None forgets it."""
    global _chosen
    if choice is not None:
        catalogue(choice)  # refuses an unknown language
    _chosen = choice


def default_language() -> str:
    """The process's language: --lang, else $KIOSK_LANG, else Simplified Chinese."""
    choice = _chosen or os.environ.get("KIOSK_LANG", DEFAULT_LANGUAGE)
    return choice if choice in LANGUAGES else DEFAULT_LANGUAGE


language = default_language


def t(key: str, language: str | None = None, **params: object) -> str:
    """The text for ``key`` in ``language`` with ``{name}`` placeholders filled."""
    language = language or default_language()
    text = catalogue(language).get(key) or catalogue("en").get(key) or key
    return text.format(**params) if params else text


def say(key: str, err: bool = False, **params: object) -> None:
    """Print a catalogue message (the command line's way to speak)."""
    import click

    click.echo(t(key, **params), err=err)
