"""The ``kiosk`` command line: help texts, real round trips in subprocesses, home resolution."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kiosk.cli.gate import EVENT_COLUMNS
from kiosk.cli.root import cli
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.sim.demo import write_ledger
from kiosk.store.config import resolve_home
from tests.conftest import NOW


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand path, walking nested groups (also ones added later)."""
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += command_paths(command, prefix + (name,))
        else:
            paths.append(prefix + (name,))
    return paths


@pytest.mark.parametrize("path", command_paths(cli), ids=lambda p: " ".join(p) or "kiosk")
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="kiosk")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"kiosk {' '.join(path)}".strip() in result.output.replace("Usage: ", "")


def test_the_walk_finds_nested_commands():
    paths = command_paths(cli)
    assert {("office", "import"), ("registry", "load"), ("guard", "on"), ("verify-log",)} <= set(paths)


@pytest.fixture
def env(tmp_path) -> dict:
    """The environment for subprocesses: no KIOSK_HOME, XDG data inside tmp_path."""
    clean = {k: v for k, v in os.environ.items() if k not in ("KIOSK_HOME", "KIOSK_PIN")}
    return {**clean, "XDG_DATA_HOME": str(tmp_path / "xdg"), "KIOSK_LANG": "en"}


def kiosk(env, *args, home: Path | None = None, status: int = 0, **extra_env) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kiosk", *(["--home", str(home)] if home else []), *args]
    result = subprocess.run(command, env={**env, **extra_env}, capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == status, (result.stdout, result.stderr)
    return result


def test_office_to_gate_round_trip(tmp_path, env):
    office, gate = tmp_path / "office", tmp_path / "gate"
    key_line = kiosk(env, "office", "init", "--site", "jinan", home=office).stdout.strip()
    assert key_line.startswith("ed25519:")
    assert (office / "office-public-key.txt").read_text().strip() == key_line
    assert oct((office / "keys" / "signing.key").stat().st_mode & 0o777) == "0o600"

    ledger = write_ledger(tmp_path / "ledger.csv")
    imported = kiosk(env, "office", "import", str(ledger), "--site", "jinan", "--strict", home=office).stdout
    assert imported.splitlines()[-2:] == [
        "new 8, changed 0, unchanged 0, no longer in the ledger 0; refused 0 rows, repeated 0 rows", "imported 8 rows"]
    bad = tmp_path / "bad.csv"
    bad.write_text("编号,姓名,楼栋,单元,房号\nX1,,1,1,101\nX2,好,1,1,102\n", encoding="utf-8")
    refused = kiosk(env, "office", "import", str(bad), "--site", "jinan", "--strict", home=office, status=1)
    assert refused.stderr == f"{bad}:2: missing name\n"
    assert refused.stdout.splitlines()[-1] == "rows were refused (--strict): nothing written"

    issued = kiosk(env, "office", "issue", "--site", "jinan", "--person", "R001", "--person", "R003",
                   "--vehicle", "陕h 12345", "--out", str(tmp_path / "passes"), home=office).stdout.splitlines()
    assert [line.split("\t")[1:] for line in issued] == [["resident", "R001"], ["resident", "R003"],
                                                         ["vehicle", "陕H12345"]]
    tokens = {row[2]: row[3] for row in csv.reader(io.StringIO((tmp_path / "passes" / "tokens.tsv").read_text()), delimiter="\t")}
    assert all((tmp_path / "passes" / f"{line.split()[0]}.png").exists() for line in issued)
    kiosk(env, "office", "revoke", issued[1].split("\t")[0], "--reason", "遗失", home=office)
    assert "bundle version 1 for jinan" in kiosk(env, "office", "bundle", "--site", "jinan", "--out",
                                                 str(tmp_path / "r.bundle"), home=office).stdout
    assert kiosk(env, "office", "public-key", home=office).stdout.strip() == key_line

    init = kiosk(env, "init", "--site", "jinan", "--gate-id", "jinan-gate", "--trust-key",
                 str(office / "office-public-key.txt"), home=gate)
    assert init.stdout.startswith(f"trusted key {key_line.split(':')[1]}\n")
    assert kiosk(env, "init", "--site", "jinan", "--gate-id", "x", home=gate, status=1).stderr.startswith("Error: ")
    assert kiosk(env, "keys", "list", home=gate).stdout == key_line.split(":")[1] + "\n"
    loaded = kiosk(env, "registry", "load", str(tmp_path / "r.bundle"), home=gate).stdout
    assert loaded.startswith("registry version 1 loaded for jinan: households 7, persons 8, vehicles 2, visitors 0, passes 3")
    again = kiosk(env, "registry", "load", str(tmp_path / "r.bundle"), home=gate, status=1)
    assert "[not_newer]" in again.stderr
    assert "version: 1\nsite_id: jinan\n" in kiosk(env, "registry", "info", home=gate).stdout

    kiosk(env, "guard", "add", "G001", "--name", "王建国", "--org", "南秦社区", home=gate, KIOSK_PIN="1234")
    assert kiosk(env, "guard", "on", "G001", "--lane", "in", home=gate, KIOSK_PIN="1234").stdout.startswith(
        "G001 signed on at in (")
    assert "wrong_pin" in kiosk(env, "guard", "on", "G001", "--lane", "in", home=gate, KIOSK_PIN="0000",
                                status=1).stderr
    assert "G001\t王建国\t南秦社区\tguard on duty at in" in kiosk(env, "guard", "list", home=gate).stdout

    allowed = json.loads(kiosk(env, "check", tokens["R001"], "--direction", "in", "--temp", "36.5", "--json",
                               "--record", home=gate).stdout)
    assert (allowed["outcome"], allowed["codes"], allowed["subject_id"], allowed["event_seq"]) == (
        "allow", [], "R001", 2)
    revoked = json.loads(kiosk(env, "check", tokens["R003"], "--direction", "in", "--json",
                               "--record", home=gate, status=2).stdout)
    assert (revoked["outcome"], revoked["codes"], revoked["message"]) == (
        "deny", ["revoked"], "Refused: Pass has been revoked")
    vehicle = kiosk(env, "check", tokens["陕H12345"], "--direction", "out", "--plate", "陕H99999",
                    "--driver", tokens["R001"], home=gate, status=2)
    assert vehicle.stdout.splitlines()[0] == "refer plate_mismatch"
    unknown = json.loads(kiosk(env, "check", "PNOSUCH", "--direction", "in", "--json", home=gate, status=2).stdout)
    assert (unknown["codes"], unknown["event_seq"]) == (["unknown_pass"], None)
    kiosk(env, "guard", "off", "G001", "--note", "2号楼外卖已登记", home=gate, KIOSK_PIN="1234")

    lines = kiosk(env, "events", "--json", home=gate).stdout.splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["sign_on", "scan", "scan", "sign_off"]
    assert [json.loads(line)["seq"] for line in kiosk(env, "events", "--json", "--since", "2", "--limit", "1",
                                                      home=gate).stdout.splitlines()] == [3]
    table = list(csv.DictReader(io.StringIO(kiosk(env, "events", "--csv", home=gate).stdout)))
    assert tuple(table[0]) == EVENT_COLUMNS and [r["outcome"] for r in table] == ["", "allow", "deny", ""]
    assert len(kiosk(env, "events", home=gate).stdout.splitlines()) == 4

    logs = json.loads(kiosk(env, "shifts", "--json", home=gate).stdout)
    assert [log["key"] for log in logs] == ["night", "morning", "afternoon"]
    assert sum(log["events"] for log in logs) >= 1  # the run may straddle a shift change, not a day change here
    assert "/morning Morning 08:00-16:00: in " in kiosk(env, "shifts", "--date", "2026-11-29", home=gate).stdout
    chinese = kiosk(env, "shifts", "--date", "2026-11-29", home=gate, KIOSK_LANG="zh").stdout  # the default
    assert "/morning 早班 08:00-16:00：进 " in chinese

    assert kiosk(env, "verify-log", home=gate).stdout == "ok: 4 events checked\n"
    conn = sqlite3.connect(gate / "gate.db")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET outcome = 'allow' WHERE seq = 3")
    conn.commit()
    conn.close()
    tampered = kiosk(env, "verify-log", home=gate, status=1)
    assert (tampered.stdout, tampered.stderr) == ("FAILED: 4 events checked\n",
                                                  "seq 3: content does not match its hash (altered)\n")


def test_commands_on_a_missing_home_say_how_to_fix_it(tmp_path, env):
    result = kiosk(env, "events", home=tmp_path / "nowhere", status=1)
    assert "run `kiosk init`" in result.stderr and "Traceback" not in result.stderr


def test_an_office_folder_is_not_a_gate(tmp_path, env):
    kiosk(env, "office", "init", "--site", "jinan", home=tmp_path / "office")
    assert "not a gate" in kiosk(env, "events", home=tmp_path / "office", status=1).stderr


def test_home_resolution_order(tmp_path, env):
    flag, variable, default = tmp_path / "flag", tmp_path / "variable", tmp_path / "xdg" / "kiosk"
    init = ("init", "--site", "s", "--gate-id", "g")
    kiosk(env, *init, home=flag, KIOSK_HOME=str(variable))
    assert (flag / "kiosk.toml").exists() and not variable.exists()
    kiosk(env, *init, KIOSK_HOME=str(variable))
    assert (variable / "kiosk.toml").exists() and not default.exists()
    kiosk(env, *init)
    assert (default / "kiosk.toml").exists()
    assert oct(default.stat().st_mode & 0o777) == "0o700"
    assert oct((default / "kiosk.toml").stat().st_mode & 0o777) == "0o600"


def test_resolve_home_falls_back_to_local_share(monkeypatch, tmp_path):
    monkeypatch.delenv("KIOSK_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_home() == tmp_path / ".local" / "share" / "kiosk"
    monkeypatch.setenv("KIOSK_HOME", str(tmp_path / "k"))
    assert resolve_home() == tmp_path / "k"
    assert resolve_home(tmp_path / "h") == tmp_path / "h"


def test_a_car_pass_of_an_isolated_household_lets_nobody_through(community, office, republish, tmp_path, env):
    # issue 10, case 1: the car pass let a person out of home isolation and in without a temperature
    ledger = tmp_path / "car.csv"
    ledger.write_text("编号,姓名,楼栋,单元,房号,车牌,健康状态\nR003,刘洋,2,1,302,陕H30200,居家隔离\n", encoding="utf-8")
    assert ledger_mod.import_ledger(office, ledger, "jinan", NOW, strict=True).errors == []
    republish()
    car = office_mod.issue_pass(office, subject_kind="vehicle", subject_id="陕H30200", site_id="jinan",
                                now=NOW - timedelta(hours=1)).token
    gate = community.gate_home
    out = kiosk(env, "check", car, "--direction", "out", "--record", home=gate, status=2).stdout
    assert out.splitlines()[0] == "deny vehicle_pass_alone"
    assert kiosk(env, "check", car, "--direction", "in", "--record", home=gate, status=2).stdout.splitlines()[0] == \
        "deny vehicle_pass_alone"
    driven = kiosk(env, "check", car, "--direction", "out", "--driver", community.tokens["isolated"], "--record",
                   home=gate, status=2).stdout
    assert driven.splitlines()[0] == "deny home_isolation"
    unmeasured = kiosk(env, "check", car, "--direction", "in", "--driver", community.tokens["isolated"],
                       home=gate, status=2).stdout
    assert unmeasured.splitlines()[0] == "refer temperature_missing"
    with sqlite3.connect(gate / "gate.db") as conn:
        rows = conn.execute("SELECT direction, outcome, codes, subject_kind, subject_id, plate, "
                            "json_extract(data, '$.vehicle_pass_id') IS NOT NULL FROM events ORDER BY seq").fetchall()
    assert rows == [("out", "deny", '["vehicle_pass_alone"]', "vehicle", "陕H30200", None, 0),
                    ("in", "deny", '["vehicle_pass_alone"]', "vehicle", "陕H30200", None, 0),
                    ("out", "deny", '["home_isolation"]', "resident", "R003", "陕H30200", 1)]
