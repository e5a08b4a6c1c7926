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


@pytest.fixture
def as_root():
    """Mounting needs root; CI runs as root, so anything else is a failure, not a skip."""
    if os.geteuid() != 0:
        pytest.fail("this resilience test mounts a small tmpfs and must run as root (as CI does)")
