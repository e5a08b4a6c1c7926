"""Pointing a test office at a PostgreSQL database; the throw-away cluster itself is
bench/postgres_cluster.py (the benchmarks start one too)."""

from __future__ import annotations

from pathlib import Path


def use_database(office_home: Path, url: str) -> None:
    """Point an office folder at a PostgreSQL database (as `kiosk office init --database` does)."""
    import tomllib

    import tomli_w

    path = office_home / "kiosk.toml"
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    path.write_text(tomli_w.dumps({**settings, "database": url}), encoding="utf-8")
