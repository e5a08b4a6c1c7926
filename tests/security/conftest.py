"""Security tests reuse the web tests' demo community and login helpers (tests/web/conftest.py)."""

from __future__ import annotations

from tests.web.conftest import app, client, clock, demo  # noqa: F401  (fixtures)
