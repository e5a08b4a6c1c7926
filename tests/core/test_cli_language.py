"""The command line speaks the root's --lang, refuses with coded one-liners, and documents itself."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kiosk.cli.reference import helps, reference
from kiosk.cli.root import KioskGroup, cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_language_from_the_environment(monkeypatch):
    monkeypatch.delenv("KIOSK_LANG", raising=False)


def invoke(home, *args, lang: str | None = None, **extra):
    root_options = ["--lang", lang] if lang else []
    return CliRunner().invoke(cli, [*root_options, "--home", str(home), *args], prog_name="kiosk", **extra)


def test_check_speaks_the_roots_language(community):
    resident = community.tokens["resident"]
    english = invoke(community.gate_home, "check", resident, "--direction", "in", lang="en")
    chinese = invoke(community.gate_home, "check", resident, "--direction", "in")
    assert (english.exit_code, english.output) == (
        2, "refer temperature_missing\nGuard must check: Temperature not taken\n")
    assert (chinese.exit_code, chinese.output) == (2, "refer temperature_missing\n请人工核验：未测体温，请测温\n")
    as_json = invoke(community.gate_home, "check", resident, "--direction", "in", "--json", lang="en")
    assert json.loads(as_json.output)["message"] == "Guard must check: Temperature not taken"


def test_kiosk_lang_in_the_environment_still_works(community):
    result = invoke(community.gate_home, "check", community.tokens["resident"], "--direction", "in",
                    env={"KIOSK_LANG": "en"})
    assert result.output == "refer temperature_missing\nGuard must check: Temperature not taken\n"


def test_doctor_speaks_the_roots_language(community):
    english = invoke(community.gate_home, "doctor", lang="en").output.splitlines()
    chinese = invoke(community.gate_home, "doctor").output.splitlines()
    assert english[1] == "[OK] Data folder and file permissions are right"
    assert english[2].startswith("[OK] TLS certificate fingerprint (SHA-256, for the office): ")
    assert english[3:5] == ["[OK] Event log: 0 events, every one matches its hash", "[OK] 1 office public key(s) trusted"]
    assert chinese[1] == "[正常] 数据文件夹和文件的权限正确"


def below(group: click.Group) -> list[click.Command]:
    return [sub for command in group.commands.values()
            for sub in ([command, *below(command)] if isinstance(command, click.Group) else [command])]


def test_only_the_root_has_a_lang_option():
    assert "--lang" in [opt for param in cli.params for opt in param.opts]
    assert [c.name for c in below(cli) if any("--lang" in param.opts for param in c.params)] == []


REFUSALS = [  # (home, args, zh line, en line)
    ("gate", ("token", "revoke", "TNOPE"),
     "[unknown_token] 没有这个令牌 (no token TNOPE)", "[unknown_token] no such token (no token TNOPE)"),
    ("gate", ("keys", "remove", "deadbeef"),
     "[key_not_trusted] 本机未信任该密钥 (key deadbeef is not trusted here)",
     "[key_not_trusted] this key is not trusted here (key deadbeef is not trusted here)"),
    ("gate", ("keys", "remove", "{office_kid}"),
     "[last_key] 不能删除唯一信任的密钥：请先信任新的密钥 "
     "(refusing to remove the only trusted key: trust its successor first)",
     "[last_key] the only trusted key cannot be removed: trust its successor first "
     "(refusing to remove the only trusted key: trust its successor first)"),
    ("gate", ("keys", "trust", "garbage"),
     "[bad_key] 密钥无法使用 (a public key reads 'ed25519:<key id>:<base64>')",
     "[bad_key] the key is not usable (a public key reads 'ed25519:<key id>:<base64>')"),
    ("office", ("office", "revoke", "PNOPE"),
     "[unknown_pass] 没有这张通行证 (no pass PNOPE)", "[unknown_pass] no such pass (no pass PNOPE)"),
    ("office", ("office", "gate", "reset-chain", "nope"),
     "[unknown_gate] 办公室没有这个闸口 (no gate 'nope': add it with `kiosk office gate add`)",
     "[unknown_gate] no such gate in this office (no gate 'nope': add it with `kiosk office gate add`)"),
    ("office", ("office", "gate", "add", "g1", "--export-key", "garbage"),
     "[bad_key] 密钥无法使用 (a public key reads 'ed25519:<key id>:<base64>')",
     "[bad_key] the key is not usable (a public key reads 'ed25519:<key id>:<base64>')"),
    ("gate", ("guard", "on", "G404", "--lane", "in", "--pin", "1234"),
     "[wrong_pin] 编号或PIN错误", "[wrong_pin] unknown guard or wrong PIN"),
]


@pytest.mark.parametrize(("where", "args", "zh", "en"), REFUSALS, ids=[" ".join(r[1][:3]) for r in REFUSALS])
def test_a_refusal_is_one_coded_line_in_the_chosen_language(community, where, args, zh, en):
    home = community.gate_home if where == "gate" else community.office_home
    args = tuple(arg.format(office_kid=_office_kid(community)) for arg in args)
    chinese = invoke(home, *args)
    english = invoke(home, *args, lang="en")
    assert (chinese.exit_code, chinese.stderr) == (1, f"Error: {zh}\n")
    assert (english.exit_code, english.stderr) == (1, f"Error: {en}\n")


def _office_kid(community) -> str:
    return (community.office_home / "office-public-key.txt").read_text().split(":")[1]


def test_an_unexpected_exception_is_a_bug_not_a_refusal():
    def broken() -> None:
        raise ValueError("a bug")

    group = KioskGroup(commands=[click.Command("broken", callback=broken)])
    result = CliRunner().invoke(group, ["broken"])
    assert isinstance(result.exception, ValueError) and str(result.exception) == "a bug"
    assert "Error:" not in result.output


def test_help_examples_keep_their_lines():
    run_help = CliRunner().invoke(cli, ["run", "--help"], prog_name="kiosk").output
    assert "  Example:\n      kiosk --home /var/lib/kiosk run\n      kiosk --home demo-data run --simulate --once\n" \
        in run_help
    for path, text in helps(cli):
        lines = text.splitlines()
        examples = lines[lines.index("  Example:") + 1:]
        examples = examples[:examples.index("")]
        assert examples and all(line.startswith("      kiosk ") for line in examples), path


def test_the_cli_reference_matches_the_commands():
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == reference(), "docs/cli.md is stale: run `python -m kiosk.cli.reference > docs/cli.md`"
