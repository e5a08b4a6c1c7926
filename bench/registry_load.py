"""How long a registry bundle load holds the gate's write lock (issue 19: at most 200 ms).

    python -m bench.registry_load            # 3,600 and 60,000 persons, writes docs/benchmarks.md
    python -m bench.registry_load --quick    # 3,600 persons only, prints only

A registry of N persons (N/2 households, N/6 vehicles, a pass per person and vehicle, N/60
under health measures, N/100 visitors, 30 risk areas) in a signed bundle, loaded on a real gate
database with the kiosk's durability settings. While each load runs, a second connection does
what a lane does (one short write transaction at a time, here an upsert of `sync_state`) and
measures how long each of its `BEGIN IMMEDIATE` waited; the loader's own write transactions
(`BEGIN IMMEDIATE` until the statement after `COMMIT`) are timed through SQLite's statement trace.

Loads measured, each against the same bundle: *one transaction* is the loader before issue 19's
staging (delete everything, insert everything, one write transaction; kept here as the
baseline); *raw* is a bare `executemany` of the same rows into empty tables in one transaction
(the floor for any load that writes every row under the lock); *staged* is `load_bundle`: rows
staged in TEMP tables without the lock, then one swap transaction writing only what changed,
as a first load (every row new), a next version with 1% of persons changed, and a next version
where every row changed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import bench
from kiosk.core.signing import public_key_text
from kiosk.store import registry
from kiosk.store.db import connect, open_db, transaction

HEADING = "## Registry load (issue 19)"
SITE = "jinan"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def registry_tables(persons: int, generation: int = 0, changed_share: float = 0.0) -> dict[str, list[dict]]:
    """A registry of ``persons`` persons; ``changed_share`` of them have a new phone in this
    ``generation`` (1.0: every row of every table differs from generation 0)."""
    every = changed_share >= 1.0
    mark = f" g{generation}" if every else ""
    changed = int(persons * changed_share)
    households = [{"id": f"{SITE}:{h}", "site_id": SITE, "building": str(1 + h // 60),
                   "unit": str(1 + (h // 20) % 3) + mark, "room": str(101 + h % 20)} for h in range(persons // 2)]
    people = [{"id": f"P{p:06d}", "name": f"居民{p}{mark}", "household_id": f"{SITE}:{p // 2}",
               "phone": f"139{p:08d}" if p >= changed else f"138{generation:02d}{p:06d}"} for p in range(persons)]
    vehicles = [{"plate": f"鲁A{v:05d}", "household_id": f"{SITE}:{v * 3}", "note": mark or None}
                for v in range(persons // 6)]
    until = (NOW + timedelta(days=365 + (generation if every else 0))).strftime("%Y-%m-%dT%H:%M:%SZ")
    passes = [{"id": f"PS{p:06d}", "subject_kind": "person", "subject_id": f"P{p:06d}", "site_id": SITE,
               "valid_from": "2026-11-01T00:00:00Z", "valid_until": until, "status": "active", "reason": None}
              for p in range(persons)]
    passes += [{"id": f"PV{v:05d}", "subject_kind": "vehicle", "subject_id": f"鲁A{v:05d}", "site_id": SITE,
                "valid_from": "2026-11-01T00:00:00Z", "valid_until": until, "status": "active", "reason": None}
               for v in range(persons // 6)]
    health = [{"person_id": f"P{p * 60:06d}", "status": "home_isolation", "since": "2026-11-20",
               "until": "2026-12-04", "cadre_name": "网格员" + mark, "cadre_phone": "13900000000"}
              for p in range(persons // 60)]
    visitors = [{"id": f"V{v:05d}", "name": f"访客{v}{mark}", "phone": None, "household_id": f"{SITE}:{v}",
                 "purpose": "探亲", "issued_by": "office"} for v in range(persons // 100)]
    risk_areas = [{"code": f"{610100 + a}", "name": f"地区{a}{mark}", "level": "medium"} for a in range(30)]
    return {"households": households, "persons": people, "vehicles": vehicles, "visitors": visitors,
            "passes": passes, "health": health, "risk_areas": risk_areas}


def bundle_bytes(key: Ed25519PrivateKey, version: int, tables: dict[str, list[dict]]) -> bytes:
    return registry.build_bundle(key, site_id=SITE, version=version, issued=NOW, tables=tables, settings={},
                                 trusted_keys=[])


class LockWatch:
    """The loader's write transactions (statement trace) and a second writer's waits."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.spans: list[float] = []
        self.waits: list[float] = []
        self.gave_up = 0  # second-writer transactions that waited out the busy timeout (10 s)
        self._open: float | None = None
        self._closing = False
        self._stop = threading.Event()
        self._writer = connect(path)
        self._thread = threading.Thread(target=self._write_often, daemon=True)
        conn.set_trace_callback(self._traced)
        self._conn = conn

    def _traced(self, sql: str) -> None:
        now = time.perf_counter()
        if self._closing:  # the first statement after COMMIT/ROLLBACK: the lock is free again
            self.spans.append(now - self._open)
            self._open, self._closing = None, False
        if sql == "BEGIN IMMEDIATE":
            self._open = now
        elif sql in ("COMMIT", "ROLLBACK") and self._open is not None:
            self._closing = True

    def _write_often(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # waited out the busy timeout: a scan "not recorded"
                self.waits.append(time.perf_counter() - started)
                self.gave_up += 1
                continue
            self.waits.append(time.perf_counter() - started)
            self._writer.execute("INSERT INTO sync_state VALUES ('bench', ?, 'now') ON CONFLICT (key) "
                                 "DO UPDATE SET value = excluded.value", (str(started),))
            self._writer.execute("COMMIT")
            time.sleep(0.002)

    def run(self, load: Callable[[], Any]) -> float:
        self._thread.start()
        time.sleep(0.05)
        started = time.perf_counter()
        try:
            load()
            self._conn.execute("SELECT 1")  # closes the last span
        finally:
            elapsed = time.perf_counter() - started
            self._stop.set()
            self._thread.join()
            self._writer.close()
            self._conn.set_trace_callback(None)
        return elapsed


def load_in_one_transaction(db, data: bytes) -> None:
    """The loader before staging (kept as the baseline): delete and insert under the lock."""
    payload = registry.open_bundle(data, registry.trusted_keys(db))
    with transaction(db):
        for table in reversed(registry.REGISTRY_TABLES):
            db.conn.execute(f"DELETE FROM {table}")
        for table in registry.REGISTRY_TABLES:
            if payload["tables"].get(table):
                db[table].insert_all(payload["tables"][table])
        db["registry_meta"].upsert({"key": "version", "value": str(payload["version"])}, pk="key")


def load_raw(db, data: bytes) -> None:
    """The floor: the same rows, bare executemany into the empty tables, one transaction."""
    payload = registry.open_bundle(data, registry.trusted_keys(db))
    with transaction(db):
        for table in registry.REGISTRY_TABLES:
            rows = payload["tables"].get(table, [])
            if rows:
                names = list(rows[0])
                db.conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                    f"({', '.join('?' for _ in names)})", [list(row.values()) for row in rows])


def fresh_gate(folder: Path, name: str, key: Ed25519PrivateKey):
    db = open_db(folder / f"{name}.db", "gate")
    registry.trust_key(db, public_key_text(key.public_key()), NOW)
    return db


def measure(folder: Path, persons: int) -> list[dict]:
    key = Ed25519PrivateKey.generate()
    first = bundle_bytes(key, 2, registry_tables(persons))
    few = bundle_bytes(key, 3, registry_tables(persons, 1, 0.01))
    every = bundle_bytes(key, 4, registry_tables(persons, 2, 1.0))
    rows = []

    def watched(label: str, db, load: Callable[[], Any]) -> None:
        watch = LockWatch(Path(db.conn.execute("PRAGMA database_list").fetchone()[2]), db.conn)
        elapsed = watch.run(load)
        rows.append({"persons": persons, "load": label, "total_s": elapsed, "transactions": len(watch.spans),
                     "longest_ms": max(watch.spans) * 1000, "wait_ms": max(watch.waits) * 1000,
                     "writes": len(watch.waits) - watch.gave_up, "gave_up": watch.gave_up})

    for label, loader in (("raw (floor)", load_raw), ("one transaction (before)", load_in_one_transaction)):
        db = fresh_gate(folder, f"{label[:3]}-{persons}", key)
        watched(label, db, lambda db=db, loader=loader: loader(db, first))
        db.conn.close()
    db = fresh_gate(folder, f"staged-{persons}", key)
    watched("staged: first load", db, lambda: registry.load_bundle(db, first, SITE, NOW))
    watched("staged: next version, 1% of persons changed", db, lambda: registry.load_bundle(db, few, SITE, NOW))
    watched("staged: next version, every row changed", db, lambda: registry.load_bundle(db, every, SITE, NOW))
    db.conn.close()
    return rows


def report(rows: list[dict], command: str, elapsed: float) -> str:
    lines = [HEADING, "",
             f"Command (from the repository root): `{command}`", "",
             __doc__.split("\n\n", 2)[2].strip(), "",
             f"Environment: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
             f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end (a "
             f"shared machine); {time.strftime('%Y-%m-%d')}; whole run {elapsed:.0f} s. The longest write "
             "transaction is the figure the 200 ms limit is about; the second writer's longest wait adds its own "
             "commit and the scheduler on a busy machine.", "",
             "| persons | load | write transactions | longest write transaction | second writer's longest wait "
             "| second writer's commits (gave up after the 10 s busy timeout) | whole load |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['persons']:,} | {row['load']} | {row['transactions']} | {row['longest_ms']:.0f} ms "
                     f"| {row['wait_ms']:.0f} ms | {row['writes']} ({row['gave_up']}) | {row['total_s']:.2f} s |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,600 persons only; print only")
    parser.add_argument("--persons", type=int, nargs="+", default=[3_600, 60_000])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [row for persons in ([3_600] if args.quick else args.persons) for row in measure(Path(tmp), persons)]
    section = report(rows, "python -m bench.registry_load" + (" --quick" if args.quick else ""),
                     time.perf_counter() - started)
    print(section)
    if not args.quick:
        bench.write_section(args.out, HEADING, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
