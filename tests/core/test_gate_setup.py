"""Gate set-up checks: key retirement, configuration errors at start-up, lane rules in `kiosk check`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.gate.service import Gate
from kiosk.store import registry
from kiosk.store.config import ConfigError


def invoke(home, *args):
    return CliRunner().invoke(cli, ["--home", str(home), *args], prog_name="kiosk")


def test_a_retired_key_can_be_removed_but_never_the_last(community, other_key, clock):
    with Gate.open(community.gate_home, clock=clock) as gate:
        (office_kid,) = registry.trusted_keys(gate.db)
        refused = invoke(community.gate_home, "keys", "remove", office_kid)
        assert refused.exit_code == 1 and "only trusted key" in refused.output
        successor = registry.trust_key(gate.db, registry.public_key_text(other_key.public_key()), clock.now())
    removed = invoke(community.gate_home, "keys", "remove", office_kid)
    assert removed.exit_code == 0, removed.output
    assert invoke(community.gate_home, "keys", "list").output.split() == [successor]
    check = invoke(community.gate_home, "check", community.tokens["resident"], "--direction", "in",
                   "--temp", "36.5", "--json")
    assert json.loads(check.output)["codes"] == ["unknown_key"]


def test_unknown_key_id_is_a_clear_error(community):
    result = invoke(community.gate_home, "keys", "remove", "00000000")
    assert result.exit_code == 1 and "not trusted here" in result.output


def test_a_typo_in_rules_stops_the_gate_at_start_up(community):
    config = community.gate_home / "kiosk.toml"
    config.write_text(config.read_text() + '\n[rules.severity]\nfevr = "deny"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        Gate.open(community.gate_home)
    assert (refused.value.code, refused.value.message("en")) == (
        "unknown_key", "kiosk.toml: unknown key [rules.severity] fevr; did you mean fever?")


def test_check_applies_the_lanes_temperature_requirement(community):
    entry = invoke(community.gate_home, "check", community.tokens["resident"], "--direction", "in", "--json")
    exit_ = invoke(community.gate_home, "check", community.tokens["resident"], "--direction", "out", "--json")
    assert (entry.exit_code, json.loads(entry.output)["codes"]) == (2, ["temperature_missing"])
    assert (exit_.exit_code, json.loads(exit_.output)["codes"]) == (0, [])


def test_messages_are_chinese_by_default_and_english_on_request(community, monkeypatch):
    monkeypatch.delenv("KIOSK_LANG", raising=False)
    bundle = community.root / "registry.bundle"
    chinese = invoke(community.gate_home, "registry", "load", str(bundle))
    english = invoke(community.gate_home, "--lang", "en", "registry", "load", str(bundle))
    assert (chinese.exit_code, english.exit_code) == (1, 1)
    assert "[not_newer] 名册文件版本不比已加载的新 (bundle version 1 is not newer" in chinese.output
    assert "[not_newer] bundle is not newer than the loaded one (bundle version 1" in english.output
