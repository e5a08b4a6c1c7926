"""Fixtures for the resilience tests: real demo communities, real processes, real mounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def kiosk_env(**extra: str) -> dict:
    """Environment for a kiosk subprocess started from the repository."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def spawn(*args: str, **options) -> subprocess.Popen:
    """A Python subprocess of this repository (``-m module`` style arguments)."""
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=kiosk_env(**options.pop("env", {})),
                            **options)


@pytest.fixture(scope="session")
def decoder():
    from hardware.decoder import make_decoder

    return make_decoder("zxing")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs: needs root (CI runs as root)")
