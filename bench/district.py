"""District scale (issue 16): many gates pulled at once, and the daily report over millions of office events.

Run from the repository root::

    python -m bench.district                   # 200 gates x 5,000 events; report at 1M and 10M events
    python -m bench.district --quick           # make bench: 20 gates x 500 events, report at 20,000; prints only
    python -m bench.district --database URL    # the office store (default: SQLite in the office folder)

Pulls: every gate is a real gate folder (its own gate.db holding a valid chain) served by the
gate's own application under waitress on its own loopback port, in this process. The office
runs `kiosk office pull` in its own process, as the systemd timer does: once with the pool
(--workers, default 8) and once one gate at a time (--workers 1), each into a new office.
Baseline in the same run: a plain client in its own process fetching the same answers
(GET /events of every gate, the same pool size) without verifying or storing anything.

Daily report: office events written straight into a new office's store in bulk (spread over
200 gates and 30 days, 0.1% fever refusals), then `daily_report` of the last day, against a
raw read of that day's rows by the time index.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from bench import write_section
from bench.fleet import GateServers, make_gate

ROOT = Path(__file__).resolve().parents[1]
GATES_PER_COMMUNITY = 10
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


def create_office(home: Path, sites: list[str], database: str | None) -> None:
    """An office folder as `kiosk office init` makes it; ``database`` is passed on (the store to use)."""
    args = ["--home", str(home), "office", "init", *(arg for site in sites for arg in ("--site", site))]
    made = python("-m", "kiosk", *args, *(["--database", database] if database else []))
    if made.returncode != 0:
        raise RuntimeError(f"office init failed: {made.stderr}")


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """``python ARGS`` in its own process: (wall seconds, its outcome)."""
    start = time.perf_counter()
    done = python(*args)
    return time.perf_counter() - start, done


def office_counts(home: Path) -> tuple[int, int]:
    from kiosk.office.service import Office

    with Office.open(home) as office:
        return office.db.conn.execute("SELECT count(*), count(DISTINCT id) FROM gate_events").fetchone()


# --- pulls -----------------------------------------------------------------------------------

def measure_pulls(folder: Path, gate_count: int, events: int, workers: int, database: str | None) -> dict:
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
        for key, pool in (("pool", workers), ("one_by_one", 1)):
            home = folder / f"office-{key}"
            create_office(home, sites, database)
            with Office.open(home) as office:
                for gate in gates:
                    pull.add_gate(office, gate.name, gate.url, gate.token)
            seconds, done = timed("-m", "kiosk", "--home", str(home), "office", "pull", "--workers", str(pool))
            if done.returncode != 0 or office_counts(home) != (gate_count * events,) * 2:
                raise RuntimeError(f"pull with {pool} workers: status {done.returncode}, office holds "
                                   f"{office_counts(home)}: {done.stderr[-2000:]}")
            results[f"{key}_s"] = seconds
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
    """Write ``size`` events straight into the office's store (indexes dropped, then built again)."""
    from kiosk.core.protocol import EVENT_COLUMNS
    from kiosk.core.shifts import shift_defs
    from kiosk.office import pull
    from kiosk.office.service import Office
    from kiosk.store.db import transaction

    insert = (f"INSERT INTO gate_events (gate, {', '.join(EVENT_COLUMNS)}, clock_offset_s) "
              f"VALUES ({', '.join('?' for _ in range(len(EVENT_COLUMNS) + 2))})")
    began = time.perf_counter()
    with Office.open(home) as office:
        for gate in range(gates):
            pull.add_gate(office, f"gate-{gate:03d}", "", "")
        conn = office.db.conn
        conn.executemany("UPDATE gates SET site_id = ? WHERE name = ?",
                         [(community(gate), f"gate-{gate:03d}") for gate in range(gates)])
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'gate_events' "
                               "AND sql IS NOT NULL").fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        rows = office_rows(size, gates, days, last_day, office.config["timezone"], shift_defs(office.config["shifts"]))
        while True:
            with transaction(office.db) as writer:
                chunk = writer.executemany(insert, (row for _, row in zip(range(500_000), rows))).rowcount
            if chunk < 500_000:
                break
        with transaction(office.db) as writer:
            for _, sql in indexes:
                writer.execute(sql)
        conn.execute("ANALYZE")
    return time.perf_counter() - began


def measure_report(folder: Path, size: int, gates: int, database: str | None, rounds: int = 3) -> dict:
    from kiosk.core.shifts import shift_defs
    from kiosk.office.service import Office
    from web.daily_report import daily_report

    home = folder / f"report-{size}"
    sites = sorted({community(n) for n in range(gates)})
    create_office(home, sites, database)
    day = date(2026, 11, 29)
    fill_s = fill_office(home, size, gates, 30, day)
    with Office.open(home) as office:
        defs, tz = shift_defs(office.config["shifts"]), office.config["timezone"]
        start = datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=8)))
        window = [start.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                  (start + timedelta(days=1)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")]
        report_s, raw_s = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            day_rows = len(office.db.conn.execute("SELECT * FROM gate_events WHERE ts_utc >= ? AND ts_utc < ?",
                                                  window).fetchall())
            raw_s.append(time.perf_counter() - began)
            began = time.perf_counter()
            report = daily_report(office.db, day, office.sites(), defs, tz)
            report_s.append(time.perf_counter() - began)
        db_file = office.config.db_path
    passages = sum(c[way]["persons"] for c in report["compounds"] for way in ("entries", "exits"))
    fevers = sum(len(c["fevers"]) for c in report["compounds"])
    if abs(passages + fevers - day_rows) > day_rows // 1000:  # each is an allowed passage or a fever refusal
        # (an event within a millisecond of midnight may fall on either side: ts_local and ts_utc are cut to ms)
        raise RuntimeError(f"the report counts {passages} passages and {fevers} fevers of {day_rows} events that day "
                           f"(report {statistics.median(report_s):.2f} s, raw read {statistics.median(raw_s):.2f} s)")
    return {"size": size, "rounds": rounds, "fill_s": fill_s, "day_rows": day_rows, "report_s": statistics.median(report_s),
            "raw_s": statistics.median(raw_s), "db_mib": db_file.stat().st_size / 2 ** 20 if db_file.exists() else 0}


# --- output ----------------------------------------------------------------------------------

def pull_table(r: dict) -> str:
    rows = [("raw fetch of the same answers (no checks, no store)", r["raw_s"]),
            (f"`kiosk office pull --workers {r['workers']}`", r["pool_s"]),
            ("`kiosk office pull --workers 1` (one gate at a time)", r["one_by_one_s"])]
    lines = ["| client | time (s) | events/s | vs raw fetch |", "|---|---:|---:|---:|"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds:.1f} | {r['events'] / seconds:,.0f} | {seconds / r['raw_s']:.2f}x |")
    return "\n".join(lines)


def report_table(results: list[dict]) -> str:
    lines = ["| office events | events that day | runs | daily_report (s, median) | raw read of the day by index (s) | "
             "report / raw | bulk fill (s) | office.db (MiB) |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['size']:,} | {r['day_rows']:,} | {r['rounds']} | {r['report_s']:.2f} | {r['raw_s']:.2f} | "
                     f"{r['report_s'] / r['raw_s']:.1f}x | {r['fill_s']:.0f} | {r['db_mib']:,.0f} |")
    return "\n".join(lines)


def write_doc(pulls: dict, reports: list[dict], command: str, store: str, out: Path) -> None:
    body = (f"## District scale\n\nCommand (from the repository root): `{command}`; office store: {store}; "
            f"run {datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            "on a machine shared with other work (times vary by tens of percent between runs).\n\n"
            f"Pulls: {pulls['gates']} gates ({pulls['gates'] // GATES_PER_COMMUNITY} communities of "
            f"{GATES_PER_COMMUNITY}), {pulls['events'] // pulls['gates']:,} events each, {pulls['events']:,} in all. "
            "Each gate is a real gate folder (its own gate.db with a valid hash chain) served by the gate's "
            "application under waitress on its own loopback port (all in the benchmark's process, plain HTTP); "
            "the office runs `kiosk office pull` in its own process into a new office, every hash recomputed "
            "and chain-checked, each answer written in its own transaction (synchronous=FULL), then "
            "acknowledged; times include interpreter start-up. The raw baseline fetches the same answers with "
            "the same pool size in its own process and only counts the lines. Every run is checked: the "
            "office holds every event exactly once. Making the gate folders took "
            f"{pulls['made_s']:.0f} s.\n\n" + pull_table(pulls) + "\n\n"
            "Daily report: office events written straight into the store in bulk (200 gates in 20 "
            "communities, 30 days, 0.1% fever refusals, 3,600 residents; indexes built after the fill), "
            "then `web.daily_report.daily_report` of the last day for every community (median of the runs shown), against "
            "a raw read of that day's rows by the `gate_events_time` index in the same run.\n\n"
            + report_table(reports) + "\n")
    write_section(out, "## District scale", body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gates", type=int, default=200)
    parser.add_argument("--events", type=int, default=5000, help="Events per gate.")
    parser.add_argument("--workers", type=int, default=8, help="The pool size of the concurrent pull.")
    parser.add_argument("--report-sizes", default="1000000,10000000", help="Office events for the daily report.")
    parser.add_argument("--database", help="The office store, passed to `kiosk office init --database` "
                                           "(default: SQLite in the office folder).")
    parser.add_argument("--no-doc", action="store_true", help="Print only; do not update docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="20 gates x 500 events, report at 20,000; print only.")
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a gate's second request waiting is normal here
    if args.quick:
        args.gates, args.events, args.report_sizes, args.no_doc = 20, 500, "20000", True
    with tempfile.TemporaryDirectory() as tmp:
        pulls = measure_pulls(Path(tmp), args.gates, args.events, args.workers, args.database)
        print(pull_table(pulls), flush=True)
        reports = []
        for size in args.report_sizes.split(","):
            rounds = 3 if int(size) <= 1_000_000 else 1  # a report over ten million events takes many minutes
            reports.append(measure_report(Path(tmp), int(size), 200, args.database, rounds))
            print(report_table(reports[-1:]), flush=True)
    if not args.no_doc:
        command = " ".join(["python -m bench.district", *(argv if argv is not None else sys.argv[1:])])
        write_doc(pulls, reports, command, args.database or "SQLite", Path("docs/benchmarks.md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
