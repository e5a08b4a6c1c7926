"""Configuration and secrets: written atomically; an empty or incomplete file refuses to start."""

from __future__ import annotations

import errno
import stat

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.gate import doctor
from kiosk.gate.service import Gate
from kiosk.store.config import ConfigError, load_config, write_private
from tests.resilience.conftest import needs_root
from tests.resilience.test_full_disk import fill, small_disk  # noqa: F401 (a fixture)
from web import create_app


def test_an_empty_kiosk_toml_refuses_to_start_and_doctor_says_why(community):
    path = community.gate_home / "kiosk.toml"
    path.write_bytes(b"")
    with pytest.raises(ConfigError) as refused:
        Gate.open(community.gate_home)
    assert refused.value.code == "empty_file"
    assert refused.value.message("en").startswith(f"{path} is empty (a failed write or a damaged card)")
    [finding] = doctor.diagnose(community.gate_home)
    assert (finding.level, finding.key) == ("error", "config_bad")
    result = CliRunner().invoke(cli, ["--home", str(community.gate_home), "--lang", "en", "verify-log"])
    assert result.exit_code == 1 and f"{path} is empty" in result.output


def test_a_kiosk_toml_without_its_ids_refuses_to_start(community):
    path = community.gate_home / "kiosk.toml"
    path.write_text('role = "gate"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(community.gate_home)
    assert (refused.value.code, refused.value.message("en")) == ("missing_key", "kiosk.toml: needs the key site_id")
    path.write_text('site_id = "jinan"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(community.gate_home)
    assert (refused.value.code, refused.value.message("en")) == ("missing_key", "kiosk.toml: needs the key gate_id")


def test_an_empty_secret_key_refuses_to_start_the_web_pages(community):
    secret = community.gate_home / "secret_key"
    secret.write_bytes(b"")
    with pytest.raises(ConfigError) as refused:
        create_app({"KIOSK_HOME": str(community.gate_home)})
    assert refused.value.code == "secret_key_bad"
    assert refused.value.message("en").startswith(f"{secret} is missing or empty")


def test_a_private_file_is_replaced_whole(tmp_path):
    path = tmp_path / "kiosk.toml"
    write_private(path, "old = 1\n")
    write_private(path, "new = 2\n")
    assert path.read_text() == "new = 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kiosk.toml"]  # no temporary file left


@needs_root
def test_a_write_that_fails_on_a_full_disk_leaves_the_old_file(small_disk):  # noqa: F811
    path = small_disk / "secret_key"
    write_private(path, "a" * 64)
    fill(small_disk / "filler")
    with pytest.raises(OSError) as failed:
        write_private(path, "b" * 1_000_000)
    assert failed.value.errno == errno.ENOSPC
    assert path.read_text() == "a" * 64  # not empty, not half written
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "secret_key"]
