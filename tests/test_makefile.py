"""The README's two set-up commands: `make demo` runs the demo gate; `.ci/run` runs `make test`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_demo_runs_the_simulated_gate_and_records_its_events(tmp_path):
    home = tmp_path / "demo-data"
    # -o: the venv and system packages are this test run's own; --once: one round, then stop.
    result = subprocess.run(
        ["make", "-s", "-o", "venv", "-o", "system-packages", "demo", f"PY={sys.executable}",
         f"DEMO_HOME={home}", "DEMO_ARGS=--once"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "[out] isolated          deny   禁止通行：居家隔离人员，不得外出" in result.stdout
    with sqlite3.connect(home / "gate" / "gate.db") as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall())
    assert kinds["scan"] == result.stdout.count("\n[")


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert [line for line in script.splitlines() if line and not line.startswith("#")][-1] == "make test"
    assert "make test" in (ROOT / "README.md").read_text() and "make demo" in (ROOT / "README.md").read_text()


def test_the_arm64_install_check_is_its_own_target_not_part_of_make_test():
    """`make test-arm64` (minutes of qemu, needs root) runs scripts/test-arm64.sh; `make test` never does."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under `make test`
    plan = subprocess.run(["make", "--no-print-directory", "-n", "test-arm64"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)
    assert plan.returncode == 0 and plan.stdout.strip() == "bash scripts/test-arm64.sh"
    test_plan = subprocess.run(["make", "--no-print-directory", "-n", "-o", "venv", "-o", "test-system-packages",
                                "-o", "lint", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert test_plan.returncode == 0 and "test-arm64" not in test_plan.stdout
