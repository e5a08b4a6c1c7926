"""One catalogue for the web texts; no prose hard-coded in templates; web CLI commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from kiosk.cli.root import cli
from kiosk.core.i18n import catalogue

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "web" / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<[^>]*>", re.S)
PROSE = re.compile(r"[A-Za-z\u4e00-\u9fff]")
PROSE_ATTRS = re.compile(r'\b(?:placeholder|title|alt|aria-label)="([^"{]*)"')


def test_zh_and_en_web_catalogues_have_the_same_keys():
    zh = json.loads((ROOT / "kiosk/core/locale/web.zh.json").read_text(encoding="utf-8"))
    en = json.loads((ROOT / "kiosk/core/locale/web.en.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en) and len(zh) > 100


def test_templates_hold_no_hard_coded_prose():
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        no_jinja = JINJA.sub("", source)
        text = TAG.sub("", no_jinja)
        assert not PROSE.search(text), f"{path.name}: {PROSE.findall(text)[:20]} outside t(...)"
        assert not [a for a in PROSE_ATTRS.findall(no_jinja) if PROSE.search(a)], path.name


def test_every_static_key_used_by_templates_exists_in_both_languages():
    keys = set()
    for path in TEMPLATES.rglob("*.html"):
        keys |= set(re.findall(r"t\('([a-z_.0-9]+)'[,)]", path.read_text(encoding="utf-8")))
    for language in ("zh", "en"):
        assert not keys - set(catalogue(language)), language


def test_web_user_add_and_login(runner, demo, client):
    from tests.web.conftest import office_login

    result = runner.invoke(cli, ["--home", str(demo.gate_home), "web-user", "add", "chief", "--role", "supervisor"],
                           input="long-password\nlong-password\n")
    assert result.exit_code == 0 and "网页用户 chief（supervisor）已添加" in result.output
    again = runner.invoke(cli, ["--home", str(demo.gate_home), "web-user", "add", "chief"],
                          input="long-password\nlong-password\n")
    assert again.exit_code == 1 and "[exists]" in again.output
    short = runner.invoke(cli, ["--home", str(demo.gate_home), "web-user", "add", "x"], input="short\nshort\n")
    assert short.exit_code == 1 and "[weak_password]" in short.output
    assert office_login(client, "chief", "long-password").status_code == 302


def test_web_commands_document_an_example():
    for args in (["serve", "--help"], ["web-user", "add", "--help"]):
        result = subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0 and "Example:" in result.stdout
