"""Key and database files are created 0600 in a 0700 folder, whatever the umask; `kiosk doctor`
warns about wrong permissions and reports an office signing key found in a gate folder.
"""

from __future__ import annotations

import os
import shutil
import stat
from contextlib import contextmanager

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.gate.service import Gate
from kiosk.office.service import Office
from kiosk.sim.demo import create_demo
from tests.conftest import NOW
from tests.sync.sync_helpers import kiosk


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def private_files(home) -> dict[str, int]:
    """Every file of a data folder (and its key folder) with its mode."""
    return {str(p.relative_to(home)): mode(p) for p in sorted(home.rglob("*"))}


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_init_creates_a_private_folder_whatever_the_umask(tmp_path, mask):
    gate_home, office_home = tmp_path / "gate", tmp_path / "office"
    # The CLI runs in its own process with the umask inherited, as from a shell or systemd.
    with umask(mask):
        office = kiosk(office_home, "office", "init", "--site", "jinan")
        gate = kiosk(gate_home, "init", "--site", "jinan", "--gate-id", "g1", "--trust-key",
                     office.stdout.strip())
        export_key = kiosk(gate_home, "export-key")
    assert office.returncode == gate.returncode == export_key.returncode == 0, gate.stderr
    assert mode(gate_home) == mode(office_home) == 0o700
    assert private_files(gate_home) == {"gate.db": 0o600, "kiosk.toml": 0o600, "secret_key": 0o600,
                                        "keys": 0o700, "keys/gate-export.key": 0o600, "keys/tls.pem": 0o600}
    public = 0o666 & ~mask  # the public key line: meant to be copied to every gate
    assert private_files(office_home) == {"keys": 0o700, "keys/signing.key": 0o600, "kiosk.toml": 0o600,
                                          "office.db": 0o600, "office-public-key.txt": public,
                                          "secret_key": 0o600}


def test_demo_folders_are_private(tmp_path):
    with umask(0o022):
        demo = create_demo(tmp_path / "demo", NOW)
    for home in (demo.gate_home, demo.office_home):
        assert mode(home) == 0o700
        assert {name: m for name, m in private_files(home).items() if name != "office-public-key.txt"} == {
            name: 0o700 if name == "keys" else 0o600 for name in private_files(home)
            if name != "office-public-key.txt"}


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_the_wal_and_shm_files_of_open_databases_are_0600(tmp_path, mask):
    with umask(mask):
        demo = create_demo(tmp_path / "demo", NOW)
        with Gate.open(demo.gate_home) as gate, Office.open(demo.office_home) as office:
            gate.record("manual_open", NOW, lane="in")
            office.db["gates"].insert({"name": "g", "url": "", "token": ""}, alter=False)
            for home, name in ((demo.gate_home, "gate.db"), (demo.office_home, "office.db")):
                modes = {suffix: mode(home / (name + suffix)) for suffix in ("", "-wal", "-shm")}
                assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


def doctor(home) -> list[str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(home), "doctor"])
    return result.output.splitlines()


def test_doctor_warns_about_every_readable_private_file(community):
    home = community.gate_home
    assert kiosk(home, "export-key").returncode == 0
    with Gate.open(home) as gate:  # keep the database open so that its -wal and -shm files exist
        gate.record("manual_open", NOW, lane="in")
        os.chmod(home, 0o750)
        for name, wrong in (("gate.db", 0o644), ("gate.db-wal", 0o640), ("gate.db-shm", 0o604),
                            ("secret_key", 0o644), ("kiosk.toml", 0o664), ("keys/gate-export.key", 0o640)):
            os.chmod(home / name, wrong)
        lines = doctor(home)
    assert lines[1:8] == [
        f"[WARN] Data folder {home} has mode 0o750; it should be 0o700 (chmod 700)",
        f"[WARN] File {home / 'gate.db'} has mode 0o644; it should be 0o600 (chmod 600)",
        f"[WARN] File {home / 'gate.db-wal'} has mode 0o640; it should be 0o600 (chmod 600)",
        f"[WARN] File {home / 'gate.db-shm'} has mode 0o604; it should be 0o600 (chmod 600)",
        f"[WARN] File {home / 'secret_key'} has mode 0o644; it should be 0o600 (chmod 600)",
        f"[WARN] File {home / 'kiosk.toml'} has mode 0o664; it should be 0o600 (chmod 600)",
        f"[WARN] File {home / 'keys' / 'gate-export.key'} has mode 0o640; it should be 0o600 (chmod 600)",
    ]


def test_doctor_reports_the_office_signing_key_in_a_gate_folder(community):
    demo = community
    stolen = demo.gate_home / "backup" / "office.key"
    stolen.parent.mkdir(mode=0o700)
    shutil.copy(demo.office_home / "keys" / "signing.key", stolen)
    os.chmod(stolen, 0o600)
    result = CliRunner().invoke(cli, ["--lang", "en", "--home", str(demo.gate_home), "doctor"])
    assert result.exit_code == 1
    assert (f"[ERROR] {stolen} is the office's pass-signing key: a gate must never hold it. Move it back to "
            "the office machine and delete it here") in result.output.splitlines()
    # and the gate itself refuses to run with it (tests/test_signing_key_refusal.py)
    assert "must never hold it" in kiosk(demo.gate_home, "verify-log").stderr
