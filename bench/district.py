"""District scale (issue 16): many gates pulled at once, and the daily report over millions of office events.

Run from the repository root::

    python -m bench.district                   # 200 gates x 5,000 events; report at 1M and 10M events
    python -m bench.district --quick           # make bench: 20 gates x 500 events, report at 20,000; prints only
    python -m bench.district --database URL    # the office store: `sqlite` (the default) or a PostgreSQL server
    python -m bench.district --database sqlite --throwaway-postgres   # both stores, PostgreSQL on a cluster of its own

Each store named (``--database``, more than once for several) gets the same gates and the same
sizes in the same run. On a PostgreSQL server, every office gets a database of its own, created
on that server (``bench_district_<office>``, dropped and made again) through the URL's login.

Pulls: every gate is a real gate folder (its own gate.db holding a valid chain) served by the
gate's own application under waitress on its own loopback port, in this process. The office
runs `kiosk office pull` in its own process, as the systemd timer does: once with the pool
(--workers, default 8) and once one gate at a time (--workers 1), each into a new office.
Baseline in the same run: a plain client in its own process fetching the same answers
(GET /events of every gate, the same pool size) without verifying or storing anything.

Daily report: office events written straight into a new office's store in bulk (spread over
200 gates and 30 days, 0.1% fever refusals; SQLite: executemany, PostgreSQL: COPY into the
monthly partitions), then `daily_report` of the last day, against a raw read of that day's rows
by the time index.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench import write_section
from bench.fleet import GateServers, make_gate

ROOT = Path(__file__).resolve().parents[1]
GATES_PER_COMMUNITY = 10
SQLITE = "sqlite"
FILL_CHUNK = 200_000
RAW_FETCH = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import requests
gates, limit, workers = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def fetch(gate):
    url, token = gate
    with requests.get(url + "/api/v1/events", params={"since": 0, "limit": limit}, stream=True, timeout=600,
                      headers={"Authorization": "Bearer " + token}) as answer:
        answer.raise_for_status()
        return sum(1 for line in answer.iter_lines(chunk_size=65536) if line) - 1  # less the cursor line
with ThreadPoolExecutor(workers) as pool:
    print(sum(pool.map(fetch, gates)))
"""


def python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIOSK_LANG": "en"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)


def create_office(home: Path, sites: list[str], database: str) -> None:
    """An office folder as `kiosk office init` makes it, on SQLite or in a new database of its own
    on the PostgreSQL server at ``database``."""
    args = ["--home", str(home), "office", "init", *(arg for site in sites for arg in ("--site", site))]
    if database != SQLITE:
        args += ["--database", new_database(database, f"bench_district_{home.name.replace('-', '_')}")]
    made = python("-m", "kiosk", *args)
    if made.returncode != 0:
        raise RuntimeError(f"office init failed: {made.stderr}")


def new_database(server_url: str, name: str) -> str:
    """An empty database called ``name`` on the server of ``server_url`` (dropped first if held): its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def store_name(database: str) -> str:
    return "SQLite" if database == SQLITE else "PostgreSQL"


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """``python ARGS`` in its own process: (wall seconds, its outcome)."""
    start = time.perf_counter()
    done = python(*args)
    return time.perf_counter() - start, done


def office_counts(home: Path) -> tuple[int, int]:
    from kiosk.office.service import Office

    with Office.open(home) as office:
        return tuple(office.store.conn.execute("SELECT count(*), count(DISTINCT id) FROM gate_events").fetchone())


# --- pulls -----------------------------------------------------------------------------------

def measure_pulls(folder: Path, gate_count: int, events: int, workers: int, databases: list[str]) -> dict:
    from kiosk.office import pull
    from kiosk.office.service import Office

    start = datetime.now(timezone.utc) - timedelta(days=1)
    began = time.perf_counter()
    gates = [make_gate(folder / "gates", f"gate-{n:03d}", community(n), events, start) for n in range(gate_count)]
    made_s = time.perf_counter() - began
    sites = sorted({community(n) for n in range(gate_count)})
    results = {"gates": gate_count, "events": gate_count * events, "workers": workers, "made_s": made_s}
    with GateServers(gates):
        raw_s, raw = timed("-c", RAW_FETCH, json.dumps([[g.url, g.token] for g in gates]), str(events), str(workers))
        if raw.returncode != 0 or int(raw.stdout) != gate_count * events:
            raise RuntimeError(f"raw fetch failed: {raw.stdout} {raw.stderr[-2000:]}")
        results["raw_s"] = raw_s
        for database in databases:
            for key, pool in (("pool", workers), ("one_by_one", 1)):
                home = folder / f"office-{store_name(database).lower()}-{key}"
                create_office(home, sites, database)
                with Office.open(home) as office:
                    for gate in gates:
                        pull.add_gate(office, gate.name, gate.url, gate.token)
                seconds, done = timed("-m", "kiosk", "--home", str(home), "office", "pull", "--workers", str(pool))
                if done.returncode != 0 or office_counts(home) != (gate_count * events,) * 2:
                    raise RuntimeError(f"pull with {pool} workers: status {done.returncode}, office holds "
                                       f"{office_counts(home)}: {done.stderr[-2000:]}")
                results[f"{store_name(database)}_{key}_s"] = seconds
                print(f"{store_name(database)} pull, {pool} workers: {seconds:.1f} s", flush=True)
    return results


def community(gate_no: int) -> str:
    return f"c{gate_no // GATES_PER_COMMUNITY:02d}"


# --- the daily report over many office events --------------------------------------------------

def office_rows(size: int, gates: int, days: int, last_day: date, tz: str, defs) -> Iterator[tuple]:
    """``size`` office events over ``gates`` gates and ``days`` days ending with ``last_day`` (local)."""
    from zoneinfo import ZoneInfo

    from kiosk.core.shifts import shift_at

    zone = ZoneInfo(tz)
    first = datetime(last_day.year, last_day.month, last_day.day, tzinfo=zone) - timedelta(days=days - 1)
    step = days * 86400 / size
    shifts: dict[int, str] = {}
    for n in range(size):
        moment = first + timedelta(seconds=n * step)
        hour = int(moment.timestamp()) // 3600
        if hour not in shifts:
            shifts[hour] = shift_at(moment, defs, tz).id
        gate, seq = n % gates, n // gates + 1
        fever = n % 1000 == 999
        yield (f"gate-{gate:03d}", seq, f"e{n:09d}", f"gate-{gate:03d}", community(gate), "in" if n % 2 else "out",
               "in" if n % 2 else "out", "scan", "deny" if fever else "allow", '["fever"]' if fever else "[]",
               f"P{n % 3600:010d}", "resident", f"R{n % 3600:04d}", f"H{n % 1961:04d}", None,
               38.2 if fever else 36.5, "G001", shifts[hour],
               moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               moment.isoformat(timespec="milliseconds"), tz, 1, None, "{}", "0" * 64, "0" * 64, 0.0)


def fill_office(home: Path, size: int, gates: int, days: int, last_day: date) -> float:
    """Write ``size`` events straight into the office's store (its plain indexes dropped, then built again)."""
    from kiosk.core.shifts import shift_defs
    from kiosk.office import pull
    from kiosk.office.service import Office
    from kiosk.store.db import transaction
    from kiosk.store.office_store import insert_events

    began = time.perf_counter()
    with Office.open(home) as office:
        store = office.store
        for gate in range(gates):
            pull.add_gate(office, f"gate-{gate:03d}", "", "")
        store.conn.executemany("UPDATE gates SET site_id = ? WHERE name = ?",
                               [(community(gate), f"gate-{gate:03d}") for gate in range(gates)])
        indexes = event_indexes(store)
        for name, _ in indexes:
            store.execute(f"DROP INDEX {name}")
        rows = office_rows(size, gates, days, last_day, office.config["timezone"], shift_defs(office.config["shifts"]))
        while chunk := [row for _, row in zip(range(FILL_CHUNK), rows)]:
            with transaction(store):
                stored = insert_events(store, chunk)
            if stored != len(chunk):
                raise RuntimeError(f"{len(chunk)} rows written, {stored} stored")
        with transaction(store):
            for _, sql in indexes:
                store.execute(sql)
        store.execute("ANALYZE")
    return time.perf_counter() - began


def event_indexes(store) -> list[tuple[str, str]]:
    """(name, CREATE statement) of gate_events' indexes that back no key (those stay)."""
    from kiosk.store.postgres import PgDatabase

    if not isinstance(store, PgDatabase):
        return store.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                  "AND tbl_name = 'gate_events' AND sql IS NOT NULL").fetchall()
    found = store.conn.raw.execute(
        "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'gate_events'::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)").fetchall()
    # a partitioned table's index reads "ON ONLY gate_events": made again, it must reach the partitions
    return [(name, sql.replace(" ON ONLY ", " ON ", 1)) for name, sql in found]


def store_mib(office) -> float:
    """The size of the office's store: its office.db file, or its PostgreSQL database."""
    from kiosk.store.postgres import PgDatabase

    if isinstance(office.store, PgDatabase):
        return office.store.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2 ** 20
    return office.config.db_path.stat().st_size / 2 ** 20


def measure_report(folder: Path, size: int, gates: int, database: str, rounds: int = 3) -> dict:
    from kiosk.core.shifts import shift_defs
    from kiosk.office.service import Office
    from kiosk.store.levels import Levels
    from web.daily_report import daily_report

    home = folder / f"report-{store_name(database).lower()}-{size}"
    sites = sorted({community(n) for n in range(gates)})
    create_office(home, sites, database)
    day = date(2026, 11, 29)
    fill_s = fill_office(home, size, gates, 30, day)
    print(f"{store_name(database)}, {size:,} events: filled in {fill_s:.0f} s", flush=True)
    with Office.open(home) as office:
        defs, tz = shift_defs(office.config["shifts"]), office.config["timezone"]
        start = datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=8)))
        window = [start.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                  (start + timedelta(days=1)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")]
        report_s, raw_s = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            day_rows = len(office.store.conn.execute("SELECT * FROM gate_events WHERE ts_utc >= ? AND ts_utc < ?",
                                                  window).fetchall())
            raw_s.append(time.perf_counter() - began)
            print(f"{store_name(database)}, {size:,} events: raw read of the day {raw_s[-1]:.2f} s", flush=True)
            began = time.perf_counter()
            report = daily_report(office.store, day, Levels.of(office.config), defs, tz)
            report_s.append(time.perf_counter() - began)
            print(f"{store_name(database)}, {size:,} events: daily_report {report_s[-1]:.2f} s", flush=True)
        mib = store_mib(office)
    passages = sum(c[way]["persons"] for c in report["compounds"] for way in ("entries", "exits"))
    fevers = sum(len(c["fevers"]) for c in report["compounds"])
    if abs(passages + fevers - day_rows) > day_rows // 1000:  # each is an allowed passage or a fever refusal
        # (an event within a millisecond of midnight may fall on either side: ts_local and ts_utc are cut to ms)
        raise RuntimeError(f"the report counts {passages} passages and {fevers} fevers of {day_rows} events that day "
                           f"(report {statistics.median(report_s):.2f} s, raw read {statistics.median(raw_s):.2f} s)")
    return {"store": store_name(database), "size": size, "rounds": rounds, "fill_s": fill_s, "day_rows": day_rows, "report_s": statistics.median(report_s),
            "raw_s": statistics.median(raw_s), "db_mib": mib}


# --- output ----------------------------------------------------------------------------------

def pull_table(r: dict, stores: list[str]) -> str:
    rows = [("raw fetch of the same answers (no checks, no store)", "-", r["raw_s"])]
    for store in stores:
        rows += [(f"`kiosk office pull --workers {r['workers']}`", store, r[f"{store}_pool_s"]),
                 ("`kiosk office pull --workers 1` (one gate at a time)", store, r[f"{store}_one_by_one_s"])]
    lines = ["| client | office store | time (s) | events/s | vs raw fetch |", "|---|---|---:|---:|---:|"]
    for name, store, seconds in rows:
        lines.append(f"| {name} | {store} | {seconds:.1f} | {r['events'] / seconds:,.0f} | {seconds / r['raw_s']:.2f}x |")
    return "\n".join(lines)


def report_table(results: list[dict]) -> str:
    lines = ["| office store | office events | events that day | runs | daily_report (s, median) | "
             "raw read of the day by index (s) | report / raw | bulk fill (s) | store size (MiB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['store']} | {r['size']:,} | {r['day_rows']:,} | {r['rounds']} | {r['report_s']:.2f} | "
                     f"{r['raw_s']:.2f} | {r['report_s'] / r['raw_s']:.1f}x | {r['fill_s']:.0f} | {r['db_mib']:,.0f} |")
    return "\n".join(lines)


def write_doc(pulls: dict | None, reports: list[dict], command: str, stores: dict[str, str], out: Path) -> None:
    """``stores``: each store's name in the tables, and as described (PostgreSQL with its version)."""
    body = (f"## District scale\n\nCommand (from the repository root): `{command}`; office stores: "
            f"{' and '.join(stores.values())}, the same gates and sizes for each; "
            f"run {datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            "on a machine shared with other work (times vary by tens of percent between runs).\n\n")
    if pulls:
        body += (f"Pulls: {pulls['gates']} gates ({pulls['gates'] // GATES_PER_COMMUNITY} communities of "
                 f"{GATES_PER_COMMUNITY}), {pulls['events'] // pulls['gates']:,} events each, {pulls['events']:,} in "
                 "all. Each gate is a real gate folder (its own gate.db with a valid hash chain) served by the "
                 "gate's application under waitress on its own loopback port (all in the benchmark's process, plain "
                 "HTTP); the office runs `kiosk office pull` in its own process into a new office (on PostgreSQL: a "
                 "new database of its own), every hash recomputed and chain-checked, each answer written in its own "
                 "transaction (SQLite synchronous=FULL; PostgreSQL by COPY), then acknowledged; times include "
                 "interpreter start-up. The raw baseline fetches the same answers with the same pool size in its own "
                 "process and only counts the lines. Every run is checked: the office holds every event exactly "
                 f"once. Making the gate folders took {pulls['made_s']:.0f} s.\n\n" + pull_table(pulls, list(stores)) + "\n\n")
    if reports:
        body += ("Daily report: office events written straight into the store in bulk (200 gates in 20 "
                 "communities, 30 days, 0.1% fever refusals, 3,600 residents; SQLite by executemany, PostgreSQL by "
                 "COPY into its monthly partitions; the indexes that back no key built after the fill), then "
                 "`web.daily_report.daily_report` of the last day for every compound (median of the runs shown), "
                 "checked against the day's rows, and a raw read of that day's rows by the `gate_events_time` index "
                 "in the same run.\n\n" + report_table(reports) + "\n")
    write_section(out, "## District scale", body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gates", type=int, default=200, help="Simulated gates to pull (0: no pulls).")
    parser.add_argument("--events", type=int, default=5000, help="Events per gate.")
    parser.add_argument("--workers", type=int, default=8, help="The pool size of the concurrent pull.")
    parser.add_argument("--report-sizes", default="1000000,10000000",
                        help="Office events for the daily report ('': no report).")
    parser.add_argument("--database", action="append",
                        help="An office store: `sqlite` (the office folder's file, the default) or a PostgreSQL "
                             "server's URL (each office gets a database of its own there); more than once to compare.")
    parser.add_argument("--throwaway-postgres", action="store_true",
                        help="Also measure PostgreSQL, on a throw-away cluster started for the run (initdb, pg_ctl).")
    parser.add_argument("--rounds", type=int, help="Runs of each report (default: 3 up to 1M events, else 1).")
    parser.add_argument("--no-doc", action="store_true", help="Print only; do not update docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="20 gates x 500 events, report at 20,000; print only.")
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a gate's second request waiting is normal here
    if args.quick:
        args.gates, args.events, args.report_sizes, args.no_doc = 20, 500, "20000", True
    databases = args.database or ([] if args.throwaway_postgres else [SQLITE])
    cluster = None
    if args.throwaway_postgres:
        from bench.postgres_cluster import PostgresCluster

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` too stops the cluster (finally below)
        cluster = PostgresCluster(durable=True).start()
        databases.append(cluster.url())
    try:
        stores = {store_name(d): store_name(d) if d == SQLITE else f"PostgreSQL {server_version(d)}" for d in databases}
        pulls, reports = measure(databases, args)
    finally:
        if cluster is not None:
            cluster.stop()
    if not args.no_doc:
        command = " ".join(["python -m bench.district", *(argv if argv is not None else sys.argv[1:])])
        write_doc(pulls, reports, command, stores, Path("docs/benchmarks.md"))
    return 0


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def measure(databases: list[str], args) -> tuple[dict | None, list[dict]]:
    stores = [store_name(d) for d in databases]
    with tempfile.TemporaryDirectory() as tmp:
        pulls = None
        if args.gates:
            pulls = measure_pulls(Path(tmp), args.gates, args.events, args.workers, databases)
            print(pull_table(pulls, stores), flush=True)
        reports = []
        for size in filter(None, args.report_sizes.split(",")):
            for database in databases:
                rounds = args.rounds or (3 if int(size) <= 1_000_000 else 1)  # 10M events: minutes per report
                reports.append(measure_report(Path(tmp), int(size), 200, database, rounds))
                print(report_table(reports[-1:]), flush=True)
    return pulls, reports


if __name__ == "__main__":
    raise SystemExit(main())
