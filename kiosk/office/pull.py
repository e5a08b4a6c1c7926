"""Gate-office sync: the gate's feed, acknowledgements and pruning, and the office client.

The gate serves its event log in seq order with the chain hashes; the office
recomputes every hash, checks that the chain continues what it already holds, stores
each batch in one transaction together with its cursor, and then acknowledges. A
repeated or interrupted pull therefore neither duplicates nor skips: the cursor only
moves with the rows it describes. See docs/sync.md.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import requests
import sqlite_utils

from kiosk import __version__
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.errors import KioskError
from kiosk.core.shifts import shift_defs, shift_log, shifts_of_day, summarise
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.store import events as events_mod
from kiosk.store import registry
from kiosk.store.db import connect, transaction
from kiosk.store.events import GENESIS_HASH, HASHED_FIELDS, event_hash

API = "/api/v1"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 50_000
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER
MAX_SHIFT_DAYS = 400
FLUSH_LINES = 256  # lines per chunk handed to the WSGI server
EVENT_COLUMNS = HASHED_FIELDS[:-1] + ("prev_hash", "hash")


class SyncError(KioskError, ValueError):
    """A sync request or pull was refused."""


class Pruned(SyncError):
    def __init__(self, lowest_seq: int) -> None:
        super().__init__("pruned", f"events before seq {lowest_seq} were pruned on the gate")
        self.lowest_seq = lowest_seq


# --- gate side -------------------------------------------------------------------------

def anchor(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def event_feed(db_path: Path, since: int, limit: int) -> Iterator[bytes]:
    """NDJSON lines of the events after ``since`` and a final cursor line, from one snapshot.

    Raises :class:`Pruned` (before anything is streamed) when ``since`` is older than
    the gate still holds. The rows are read lazily: memory does not depend on ``limit``.
    """
    conn = connect(db_path)
    try:
        conn.execute("BEGIN")  # one read snapshot: the 410 check and the rows agree
        anchor_seq, _ = anchor(conn)
        if since < anchor_seq:
            raise Pruned(anchor_seq + 1)
        head = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    except BaseException:
        conn.close()
        raise
    return _stream(conn, since, limit, head)


def _stream(conn: sqlite3.Connection, since: int, limit: int, head: int) -> Iterator[bytes]:
    try:
        count, last, chunk = 0, since, []
        for row in events_mod.iter_events(sqlite_utils.Database(conn), since, limit):
            chunk.append(json.dumps(row, ensure_ascii=False))
            count, last = count + 1, row["seq"]
            if len(chunk) >= FLUSH_LINES:
                yield ("\n".join(chunk) + "\n").encode("utf-8")
                chunk = []
        chunk.append(json.dumps({"next": last, "count": count, "done": last >= head}))
        yield ("\n".join(chunk) + "\n").encode("utf-8")
    finally:
        conn.close()


def acknowledge(db: sqlite_utils.Database, seq: int, hash_: str, now: datetime, retention_days: float) -> dict:
    """Record that the office stored every event up to ``seq`` (whose hash must match), then prune."""
    with transaction(db) as conn:
        row = conn.execute("SELECT hash FROM events WHERE seq = ?", [seq]).fetchone()
        anchor_seq, anchor_hash = anchor(conn)
        known = row[0] if row else (anchor_hash if seq == anchor_seq and seq > 0 else None)
        if known is None:
            raise SyncError("unknown_seq", f"this gate has no event {seq} to acknowledge")
        if known != hash_:
            raise SyncError("hash_mismatch", f"event {seq} on this gate has another hash than the office stored")
        earlier = conn.execute("SELECT acked_seq FROM sync_acks WHERE id = 1").fetchone()
        acked = max(seq, earlier[0] if earlier else 0)
        conn.execute("INSERT OR REPLACE INTO sync_acks VALUES (1, ?, ?)", [acked, utc_text(now)])
    return {"acked_seq": acked, "pruned": prune(db, now, retention_days)}


def prune(db: sqlite_utils.Database, now: datetime, retention_days: float) -> int:
    """Delete the oldest events that are acknowledged AND older than the retention.

    Only a prefix of the chain is removed (an old event after a young one stays), so
    the anchor (last pruned seq and hash) lets the rest be verified.
    """
    cutoff = utc_text(now - timedelta(days=retention_days))
    with transaction(db) as conn:
        acked = conn.execute("SELECT coalesce(max(acked_seq), 0) FROM sync_acks").fetchone()[0]
        young = conn.execute("SELECT seq FROM events WHERE ts_utc >= ? ORDER BY seq LIMIT 1", [cutoff]).fetchone()
        limit = min(acked, young[0] - 1) if young else acked
        last = conn.execute("SELECT seq, hash FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
                            [limit]).fetchone()
        if last is None:
            return 0
        deleted = conn.execute("DELETE FROM events WHERE seq <= ?", [last[0]]).rowcount
        conn.execute("INSERT OR REPLACE INTO chain_anchor VALUES (1, ?, ?)", [last[0], last[1]])
    return deleted


def gate_health(gate, now: datetime) -> dict:
    """What the office (and a supervisor) needs to know about a gate, as JSON."""
    db = gate.db
    meta = registry.meta(db)
    issued = meta.get("issued_utc")
    state = {row["key"]: row["value"] for row in db.query("SELECT key, value FROM sync_state")}
    acked = db.conn.execute("SELECT coalesce(max(acked_seq), 0) FROM sync_acks").fetchone()[0]
    return {
        "status": "ok", "gate_id": gate.gate_id, "site_id": gate.site_id, "version": __version__,
        "clock_utc": utc_text(now), "clock_synced": bool(gate.clock.synchronised()),
        "last_seq": events_mod.chain_head(db)[0], "lowest_seq": anchor(db.conn)[0] + 1, "acked_seq": acked,
        "registry": {"version": int(meta.get("version", 0)), "issued_utc": issued,
                     "age_s": round((now - parse_utc(issued)).total_seconds()) if issued else None},
        "lanes": list(db.query("SELECT * FROM lane_status ORDER BY lane")),
        "free_disk_bytes": shutil.disk_usage(gate.config.home).free,
        "office_last_contact_utc": state.get("office_last_contact_utc"),
    }


def gate_shift_logs(gate, since: date, now: datetime) -> list[dict]:
    """Shift logs from ``since`` up to the current (open) shift, in order."""
    current = gate.shift(now)
    if (current.date - since).days > MAX_SHIFT_DAYS:
        raise SyncError("range", f"ask for at most {MAX_SHIFT_DAYS} days of shift logs")
    logs, day = [], since
    while day <= current.date:
        for ref in shifts_of_day(day, gate.shift_defs, gate.tz):
            if ref.start <= current.start:
                logs.append({**shift_log(gate.db, ref), "open": ref.id == current.id})
        day += timedelta(days=1)
    return logs


# --- office side: gates ----------------------------------------------------------------

def add_gate(office: Office, name: str, url: str, token: str, export_key: str | None = None) -> None:
    if export_key:
        from kiosk.core.signing import parse_public_key_text

        parse_public_key_text(export_key)  # refuse a mistyped key now, not at import time
    office.db["gates"].upsert({"name": name, "url": url.rstrip("/"), "token": token, "export_key": export_key},
                              pk="name")


def get_gate(office: Office, name: str) -> dict:
    rows = list(office.db.query("SELECT * FROM gates WHERE name = ?", [name]))
    if not rows:
        raise SyncError("unknown_gate", f"no gate {name!r}: add it with `kiosk office gate add`")
    return rows[0]


def chosen_gates(office: Office, names: tuple[str, ...] | list[str]) -> list[dict]:
    if names:
        return [get_gate(office, name) for name in names]
    return list(office.db.query("SELECT * FROM gates ORDER BY name"))


def networked_gates(office: Office, names: tuple[str, ...] | list[str]) -> list[dict]:
    """The named gates, or every gate with a URL (gates without one are reached by USB only)."""
    return chosen_gates(office, names) if names else [g for g in chosen_gates(office, []) if g["url"]]


def reset_chain(office: Office, name: str) -> None:
    """Accept pulls again after an operator has looked into a chain break."""
    get_gate(office, name)
    office.db.conn.execute("UPDATE gates SET chain_broken = NULL WHERE name = ?", [name])


def mark_broken(office: Office, name: str, message: str) -> None:
    office.db.conn.execute("UPDATE gates SET chain_broken = ? WHERE name = ?", [message, name])


# --- office side: storing events -------------------------------------------------------

class ChainBreak(SyncError):
    def __init__(self, message: str) -> None:
        super().__init__("chain_broken", message)


def check_link(row: dict, seq: int, prev: str, gate_id: str | None) -> None:
    """Raise ChainBreak unless ``row`` is the event right after (seq, prev), unaltered."""
    if row.get("seq") != seq + 1:
        raise ChainBreak(f"expected seq {seq + 1}, got {row.get('seq')}: events missing or out of order")
    if row.get("prev_hash") != prev:
        raise ChainBreak(f"seq {seq + 1}: prev_hash does not continue the chain the office holds")
    if event_hash(row) != row.get("hash"):
        raise ChainBreak(f"seq {seq + 1}: content does not match its hash (altered on the gate)")
    if gate_id and row.get("gate_id") != gate_id:
        raise ChainBreak(f"seq {seq + 1}: recorded by gate {row.get('gate_id')!r}, expected {gate_id!r}")


INSERT_EVENT = (f"INSERT OR IGNORE INTO gate_events (gate, {', '.join(EVENT_COLUMNS)}, clock_offset_s) "
                f"VALUES ({', '.join('?' for _ in range(len(EVENT_COLUMNS) + 2))})")


class EventSink:
    """Verifies and stores one gate's events; the caller commits rows and cursor together."""

    def __init__(self, conn: sqlite3.Connection, gate: dict) -> None:
        self.conn, self.name = conn, gate["name"]
        self.seq, self.hash = gate["last_seq"], gate["last_hash"] or GENESIS_HASH
        self.gate_id, self.offset = gate.get("gate_id"), gate.get("clock_offset_s")
        self.stored = 0

    def add(self, row: dict) -> None:
        check_link(row, self.seq, self.hash, self.gate_id)
        if not self.conn.execute(INSERT_EVENT, [self.name, *(row[c] for c in EVENT_COLUMNS), self.offset]).rowcount:
            raise SyncError("duplicate", f"event {row['id']} is already stored for another gate name")
        self.seq, self.hash, self.stored = row["seq"], row["hash"], self.stored + 1

    def save_cursor(self) -> None:
        self.conn.execute("UPDATE gates SET last_seq = ?, last_hash = ? WHERE name = ?",
                          [self.seq, self.hash, self.name])


# --- office side: pulling --------------------------------------------------------------

@dataclass
class PullResult:
    gate: str
    new_events: int = 0
    last_seq: int = 0
    clock_offset_s: float | None = None
    problem: str | None = None
    broken: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


class GateClient:
    """HTTP to one gate: bearer token, timeouts, JSON errors turned into SyncError."""

    def __init__(self, gate: dict, timeout: float = 30.0) -> None:
        self.base = gate["url"] + API
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {gate['token']}"
        self.timeout = (5.0, timeout)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def close(self) -> None:
        self.session.close()


def _error_of(response: requests.Response) -> SyncError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 410 and "lowest_seq" in body:
        return Pruned(int(body["lowest_seq"]))
    code = body.get("error") or f"http_{response.status_code}"
    message = body.get("message") or response.reason
    if response.status_code == 401:
        return token_refused()
    return SyncError(code, f"HTTP {response.status_code}: {message}")


def token_refused() -> SyncError:
    return SyncError("unauthorized", "the gate refused the token (wrong or revoked): create one with "
                                     "`kiosk token create` on the gate and `kiosk office gate add` it here")


def measure_offset(client: GateClient, clock: Callable[[], float] = time.time) -> tuple[dict, float]:
    """The gate's health and its clock offset in seconds (gate minus office, at mid-request)."""
    start = clock()
    health = client.request("GET", "/health").json()
    end = clock()
    if "clock_utc" not in health:  # the public, minimal answer: the token was not accepted
        raise token_refused()
    gate_time = parse_utc(health["clock_utc"]).timestamp()
    return health, round(gate_time - (start + end) / 2, 3)


def pull_gate(office: Office, name: str, now: Callable[[], datetime], limit: int = 5000,
              progress: Callable[[int, int], None] | None = None) -> PullResult:
    """Fetch, verify and store a gate's new events and shift logs, then acknowledge."""
    gate = get_gate(office, name)
    result = PullResult(name, last_seq=gate["last_seq"])
    if gate["chain_broken"]:
        result.problem, result.broken = f"chain broken, pulls refused until resolved: {gate['chain_broken']}", True
        return result
    client = GateClient(gate)
    try:
        head = _record_health(office, client, gate, now(), result)
        total = max(0, head - gate["last_seq"])
        while True:
            batch, done = _pull_batch(office, client, get_gate(office, name), limit)
            result.new_events += batch
            if progress:
                progress(result.new_events, total)
            if done or batch == 0:
                break
        gate = get_gate(office, name)
        result.last_seq = gate["last_seq"]
        _pull_shifts(office, client, gate, now())
        if gate["last_seq"] > 0:
            client.request("POST", "/ack", json={"seq": gate["last_seq"], "hash": gate["last_hash"]})
    except ChainBreak as exc:
        _broken(office, result, f"seq after {get_gate(office, name)['last_seq']}: {exc}")
    except Pruned as exc:
        _broken(office, result, f"the gate pruned events this office never stored (its lowest seq is "
                                f"{exc.lowest_seq}, the office holds up to {gate['last_seq']})")
    except SyncError as exc:
        if exc.code == "hash_mismatch":
            _broken(office, result, f"{exc}: the gate's log was rewritten after the office stored it")
        else:
            result.problem = f"[{exc.code}] {exc}"
    except (requests.RequestException, ValueError, KeyError) as exc:
        result.problem = f"unreachable or bad answer: {exc.__class__.__name__}: {exc}"
    finally:
        client.close()
    return result


def _broken(office: Office, result: PullResult, message: str) -> None:
    mark_broken(office, result.gate, message)
    result.problem, result.broken = f"CHAIN BROKEN: {message}", True


def _record_health(office: Office, client: GateClient, gate: dict, now: datetime, result: PullResult) -> int:
    """Measure and keep the clock offset; returns the gate's last seq."""
    health, offset = measure_offset(client)
    if gate["gate_id"] and health["gate_id"] != gate["gate_id"]:
        raise SyncError("wrong_gate", f"{gate['url']} answers as gate {health['gate_id']!r}, "
                                      f"not {gate['gate_id']!r}")
    twin = office.db.conn.execute("SELECT name FROM gates WHERE gate_id = ? AND name != ?",
                                  [health["gate_id"], gate["name"]]).fetchone()
    if twin:
        raise SyncError("wrong_gate", f"gate {health['gate_id']!r} is already pulled as {twin[0]!r}")
    with transaction(office.db) as conn:
        conn.execute("UPDATE gates SET gate_id = ?, site_id = ?, clock_offset_s = ?, last_contact_utc = ? "
                     "WHERE name = ?", [health["gate_id"], health["site_id"], offset, utc_text(now), gate["name"]])
        conn.execute("INSERT INTO clock_offsets VALUES (?, ?, ?)", [gate["name"], utc_text(now), offset])
    result.clock_offset_s = offset
    return int(health["last_seq"])


def _pull_batch(office: Office, client: GateClient, gate: dict, limit: int) -> tuple[int, bool]:
    """One request; its rows and the new cursor are committed together or not at all."""
    response = client.request("GET", "/events", params={"since": gate["last_seq"], "limit": limit}, stream=True)
    broken = None
    with response, transaction(office.db) as conn:
        sink = EventSink(conn, gate)
        try:
            trailer = _read_feed(response, sink)
        except ChainBreak as exc:
            broken, trailer = exc, {"done": True}  # keep the verified rows before the break
        else:
            if trailer is None or trailer["count"] != sink.stored:
                raise SyncError("truncated", "the gate's answer ended early; the batch will be fetched again")
        sink.save_cursor()
    if broken:
        raise broken
    return sink.stored, bool(trailer["done"])


def _read_feed(response: requests.Response, sink: EventSink) -> dict | None:
    """Feed every event line to the sink; return the final cursor line (None if cut off)."""
    for line in response.iter_lines(chunk_size=65536):
        if not line:
            continue
        row = json.loads(line)
        if "seq" not in row:
            return row
        sink.add(row)
    return None


def _pull_shifts(office: Office, client: GateClient, gate: dict, now: datetime) -> None:
    since = gate["shifts_since"] or _first_shift_date(office, gate["name"]) or now.date().isoformat()
    earliest = (now.date() - timedelta(days=MAX_SHIFT_DAYS - 1)).isoformat()
    logs = client.request("GET", "/shifts", params={"since": max(since, earliest)}).json()["shifts"]
    with transaction(office.db) as conn:
        for log in logs:
            conn.execute("INSERT OR REPLACE INTO gate_shift_logs VALUES (?, ?, ?, ?)",
                         [gate["name"], log["shift_id"], json.dumps(log, ensure_ascii=False), utc_text(now)])
        if logs:  # next time start from the shift that was open now
            conn.execute("UPDATE gates SET shifts_since = ? WHERE name = ?", [logs[-1]["date"], gate["name"]])


def _first_shift_date(office: Office, name: str) -> str | None:
    row = office.db.conn.execute("SELECT min(shift_id) FROM gate_events WHERE gate = ? AND shift_id IS NOT NULL",
                                 [name]).fetchone()
    return row[0][:10] if row and row[0] else None


# --- office side: pushing the registry -------------------------------------------------

def push_registry(office: Office, names: list[str], now: datetime) -> list[tuple[str, str | None, str]]:
    """Send each gate the next bundle of its site: (gate, problem or None, detail)."""
    results, bundles = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for gate in networked_gates(office, names):
            client = GateClient(gate)
            try:
                site = gate["site_id"] or measure_offset(client)[0]["site_id"]
                if site not in bundles:
                    bundles[site] = office_mod.write_bundle(office, site, now, Path(folder) / f"{site}.bundle")
                version, path = bundles[site]
                answer = client.request("PUT", "/registry", data=path.read_bytes(),
                                        headers={"Content-Type": "application/octet-stream"}).json()
                results.append((gate["name"], None, f"registry version {answer['version']} loaded"))
            except SyncError as exc:
                results.append((gate["name"], f"[{exc.code}] {exc}", ""))
            except (requests.RequestException, ValueError, KeyError) as exc:
                results.append((gate["name"], f"unreachable or bad answer: {exc.__class__.__name__}: {exc}", ""))
            finally:
                client.close()
    return results


# --- office side: reports --------------------------------------------------------------

REPORT_COLUMNS = ("date", "gate", "shift", "shift_zh", "entries_persons", "entries_vehicles", "exits_persons",
                  "exits_vehicles", "refusals", "referrals", "fevers", "overrides", "returnees", "events",
                  "guards", "handover_notes")
TOTAL_FIELDS = REPORT_COLUMNS[4:14]


def report_rows(office: Office, day: date, shift_no: int | None = None, gate: str | None = None) -> list[dict]:
    """Per gate and shift: the shift summary from the office's copy of the events, with daily totals."""
    defs = shift_defs(office.config["shifts"])
    refs = [ref for ref in shifts_of_day(day, defs, office.config["timezone"])
            if shift_no is None or ref.shift.no == shift_no]
    names = [gate] if gate else [g["name"] for g in chosen_gates(office, [])]
    rows, totals = [], []
    for name in names:
        gate_rows = [_report_row(day, name, ref, summarise(list(office.db.query(
            "SELECT * FROM gate_events WHERE gate = ? AND shift_id = ? ORDER BY ts_utc, seq", [name, ref.id]))))
            for ref in refs]
        rows += gate_rows
        totals.append(_total(day, name, gate_rows))
    return rows + totals + ([_total(day, "*", totals)] if len(totals) > 1 else [])


def _report_row(day: date, gate: str, ref, log: dict) -> dict:
    return {"date": day.isoformat(), "gate": gate, "shift": ref.shift.key, "shift_zh": ref.name_zh,
            "entries_persons": log["entries"]["persons"], "entries_vehicles": log["entries"]["vehicles"],
            "exits_persons": log["exits"]["persons"], "exits_vehicles": log["exits"]["vehicles"],
            "refusals": sum(log["refusals_by_code"].values()), "referrals": log["referrals"],
            "fevers": log["fevers"], "overrides": log["overrides"], "returnees": log["returnees"],
            "events": log["events"], "guards": " ".join(g["guard_id"] for g in log["guards"]),
            "handover_notes": " | ".join(f"{n['guard_id']}: {n['note']}" for n in log["handover_notes"])}


def _total(day: date, gate: str, rows: list[dict]) -> dict:
    total: dict[str, Any] = {"date": day.isoformat(), "gate": gate, "shift": "total", "shift_zh": "合计",
                             "guards": "", "handover_notes": ""}
    total.update({field: sum(row[field] for row in rows) for field in TOTAL_FIELDS})
    return total


def office_now() -> datetime:
    return datetime.now(timezone.utc)


# --- report files ----------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet will not run as a formula (names and notes come from guards)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_report(rows: list[dict], fmt: str, out) -> None:
    """Write report rows as csv or html text (``out`` a text stream) or xlsx (``out`` a path)."""
    if fmt == "csv":
        import csv

        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows([safe_cell(row[c]) for c in REPORT_COLUMNS] for row in rows)
    elif fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "shifts"
        sheet.append(REPORT_COLUMNS)
        for row in rows:
            sheet.append([safe_cell(row[c]) for c in REPORT_COLUMNS])
        book.save(out)
    elif fmt == "html":
        from html import escape

        head = "".join(f"<th>{escape(c)}</th>" for c in REPORT_COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(row[c]))}</td>" for c in REPORT_COLUMNS) + "</tr>\n"
                       for row in rows)
        out.write(f'<!doctype html>\n<html lang="zh"><meta charset="utf-8"><title>shift report</title>\n'
                  f"<table>\n<tr>{head}</tr>\n{body}</table>\n</html>\n")
    else:
        raise ValueError(f"report format must be csv, xlsx or html, not {fmt!r}")
