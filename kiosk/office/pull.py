"""The office's half of sync: the gates it pulls from, pulling and storing events, pushing bundles.

The office recomputes every hash, checks that the chain continues what it already holds,
stores each batch in one transaction together with its cursor, and then acknowledges. A
repeated or interrupted pull therefore neither duplicates nor skips: the cursor only
moves with the rows it describes. See docs/sync.md; the gate's half is kiosk.gate.sync_feed.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import requests

from kiosk.core import safe_json
from kiosk.core.chain import GENESIS_HASH, declared_gap, event_hash
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.protocol import (
    API,
    EVENT_COLUMNS,
    MAX_SEQ,
    MAX_SHIFT_DAYS,
    VERIFY_WINDOW,
    Pruned,
    SyncError,
    range_digest,
)
from kiosk.core.signing import parse_public_key_text
from kiosk.office import service as office_mod
from kiosk.office.pinning import pinned_session
from kiosk.office.service import Office
from kiosk.store.db import transaction
from kiosk.store.office_store import OfficeConnection, OfficeStore, insert_events
from kiosk.store.postgres import EVENT_TABLE_COLUMNS, is_store_failure


def add_gate(office: Office, name: str, url: str, token: str, export_key: str | None = None) -> None:
    if export_key:
        parse_public_key_text(export_key)  # refuse a mistyped key now, not at import time
    office.store["gates"].upsert({"name": name, "url": url.rstrip("/"), "token": token, "export_key": export_key},
                              pk="name")


def get_gate(office: Office, name: str) -> dict:
    rows = list(office.store.query("SELECT * FROM gates WHERE name = ?", [name]))
    if not rows:
        raise SyncError("unknown_gate", f"no gate {name!r}: add it with `kiosk office gate add`")
    return rows[0]


def chosen_gates(office: Office, names: tuple[str, ...] | list[str]) -> list[dict]:
    if names:
        return [get_gate(office, name) for name in names]
    return list(office.store.query("SELECT * FROM gates ORDER BY name"))


def networked_gates(office: Office, names: tuple[str, ...] | list[str]) -> list[dict]:
    """The named gates, or every gate with a URL (gates without one are reached by USB only)."""
    return chosen_gates(office, names) if names else [g for g in chosen_gates(office, []) if g["url"]]


def reset_chain(office: Office, name: str) -> None:
    """Accept pulls again after an operator has looked into a chain break."""
    get_gate(office, name)
    with writing(office) as conn:
        conn.execute("UPDATE gates SET chain_broken = NULL WHERE name = ?", [name])


def mark_broken(office: Office, name: str, message: str) -> None:
    with writing(office) as conn:
        conn.execute("UPDATE gates SET chain_broken = ? WHERE name = ?", [message, name])


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


# --- what a gate answers: checked before anything is used (a hostile gate or a man in the middle)

SCALAR = (str, int, float, type(None))


def bad_answer(message: str) -> SyncError:
    return SyncError("bad_answer", f"malformed answer from the gate: {message}")


def json_object(data: bytes | str, what: str) -> dict:
    """A JSON object from the gate, within safe_json's limits; SyncError bad_answer otherwise."""
    try:
        value = safe_json.loads(data)
    except ValueError as exc:
        raise bad_answer(f"{what}: {exc}") from None
    if not isinstance(value, dict):
        raise bad_answer(f"{what} is not a JSON object")
    return value


def field(body: dict, name: str, kind: type | tuple, what: str):
    value = body.get(name)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise bad_answer(f"{what}: {name!r} is missing or of the wrong type")
    return value


def seq_field(body: dict, name: str, what: str, low: int = 0) -> int:
    value = field(body, name, int, what)
    if not low <= value <= MAX_SEQ:
        raise bad_answer(f"{what}: {name!r} out of range")
    return value


def event_row(row: dict) -> dict:
    """An event line with every column, each a plain value, and a valid seq."""
    for column in EVENT_COLUMNS:
        if column not in row or isinstance(row[column], bool) or not isinstance(row[column], SCALAR):
            raise bad_answer(f"an event line has no valid {column!r}")
    seq_field(row, "seq", "an event line", low=1)
    return row


# One writer at a time: the pull's threads fetch and verify at the same time but write one
# after the other, each answer in its own short transaction, so none waits in SQLite's busy
# handler and no transaction stays open while a gate is still sending.
_WRITER = threading.Lock()


_PULLING = threading.local()  # .client: the GateClient of the gate this thread is pulling


@contextmanager
def writing(office: Office) -> Iterator[OfficeConnection]:
    """A short write transaction on the office's store, one thread of this process at a time.
    Waiting for it (other gates' batches) and writing are the office's time: the gate being
    pulled in this thread has its deadline held meanwhile, and a fresh one after."""
    client = getattr(_PULLING, "client", None)
    if client is not None:
        client.hold()
    try:
        with _WRITER, transaction(office.store) as conn:
            yield conn
    finally:
        if client is not None:
            client.progressed()


class VerifiedBatch:
    """A gate's events, each checked to continue the chain from its cursor, held until store_batch."""

    def __init__(self, gate: dict, store: OfficeStore) -> None:
        self.name, self.store = gate["name"], store
        self.seq, self.hash = gate["last_seq"], gate["last_hash"] or GENESIS_HASH
        self.gate_id, self.offset = gate.get("gate_id"), gate.get("clock_offset_s")
        self.rows: list[list] = []
        self.gaps: list[list[int]] = []  # seq ranges the gate declared lost (log_gap events)
        self.stored = 0

    def add(self, row: dict) -> None:
        gap = declared_gap(event_row(row))
        check_link(row, *self._link_point(row, gap), self.gate_id)
        self.rows.append([self.name, *(row[c] for c in EVENT_COLUMNS), self.offset])
        if gap:
            self.gaps.append(list(gap))
        self.seq, self.hash = row["seq"], row["hash"]

    def _link_point(self, row: dict, gap: tuple[int, int] | None) -> tuple[int, str | None]:
        """The (seq, hash) the row must follow: the office's head; for the gate's declaration of
        lost events (``log_gap``, some of them perhaps stored here already), the event before
        the lost ones, which the office holds."""
        if gap is None or not gap[0] - 1 <= self.seq <= gap[1]:
            return self.seq, self.hash
        before = gap[0] - 1
        if before == self.seq:
            return row["seq"] - 1, self.hash
        held = self.store.conn.execute("SELECT hash FROM gate_events WHERE gate = ? AND seq = ?",
                                       [self.name, before]).fetchone()
        return row["seq"] - 1, held[0] if held else GENESIS_HASH if before == 0 else None


SITE_COLUMN = EVENT_TABLE_COLUMNS.index("site_id")


def store_batch(office: Office, batch: VerifiedBatch, conn: OfficeConnection | None = None) -> None:
    """The one place events are written (pulls, USB imports): the held rows and the gate's new
    cursor in one transaction (COPY on PostgreSQL), or in ``conn``'s open one; the batch is then
    empty and can take the next rows."""
    if not batch.rows:
        return
    with (nullcontext(conn) if conn is not None else writing(office)) as conn:
        if insert_events(office.store, batch.rows) != len(batch.rows):
            raise SyncError("duplicate", "an event of this batch is already stored for another gate name")
        # a gate known only from USB files has no site from a health answer: its events say where it stands
        conn.execute("UPDATE gates SET last_seq = ?, last_hash = ?, site_id = COALESCE(site_id, ?) WHERE name = ?",
                     [batch.seq, batch.hash, batch.rows[-1][SITE_COLUMN], batch.name])
        if batch.gaps:
            held = conn.execute("SELECT lost_ranges FROM gates WHERE name = ?", [batch.name]).fetchone()
            conn.execute("UPDATE gates SET lost_ranges = ? WHERE name = ?",
                         [json.dumps(json.loads(held[0] or "[]") + batch.gaps), batch.name])
    batch.stored, batch.rows, batch.gaps = batch.stored + len(batch.rows), [], []


# --- office side: pulling --------------------------------------------------------------

@dataclass
class PullResult:
    gate: str
    new_events: int = 0
    last_seq: int = 0
    clock_offset_s: float | None = None
    problem: str | None = None
    broken: bool = False
    ack_withheld: str | None = None  # pulled fine but not acknowledged, and why

    @property
    def ok(self) -> bool:
        return self.problem is None


class DeadlinePassed(SyncError):
    def __init__(self, seconds: float) -> None:
        super().__init__("deadline", f"the gate sent no complete batch within {seconds:g} s (a slow or stuck "
                                     "link); cut off, nothing half stored, the next pull goes on from here")


class GateClient:
    """HTTP to one gate: bearer token, timeouts, JSON errors turned into SyncError.

    The exchange has a deadline: a gate that answers a byte at a time cannot keep the office
    (and every gate after it) waiting. When it passes, the socket in use is shut down. A batch
    of events verified and stored earns a fresh deadline (``progressed``): a long catch-up
    that keeps delivering is not cut off, a trickle never completes a batch.
    """

    def __init__(self, gate: dict, timeout: float = 30.0, deadline_s: float = 60.0) -> None:
        self.base = gate["url"] + API
        self.session = pinned_session(gate)  # HTTPS to the pinned certificate, or plain HTTP on loopback only
        self.session.headers["Authorization"] = f"Bearer {gate['token']}"
        self.timeout, self.deadline_s = timeout, deadline_s
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self.progressed()

    def progressed(self) -> None:
        """A fresh deadline from now."""
        self.hold()
        self.expired = False
        self.ends = time.monotonic() + self.deadline_s
        self._timer = threading.Timer(self.deadline_s, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def hold(self) -> None:
        """No deadline until the next ``progressed`` (the office is busy with its own work)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.ends = math.inf

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        remaining = self.ends - time.monotonic()
        if remaining <= 0 or self.expired:
            raise DeadlinePassed(self.deadline_s)
        stream = kwargs.pop("stream", False)
        response = self.session.request(method, self.base + path, stream=True,
                                        timeout=(min(5.0, remaining), min(self.timeout, remaining)), **kwargs)
        sock = _socket_of(response)
        if sock is not None:
            self._sockets.append(sock)
        if not stream:
            response.content  # read now, under the deadline
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def out_of_time(self) -> bool:
        """The deadline passed: cut by the timer, or a read that timed out at it (its timeout was what remained)."""
        return self.expired or time.monotonic() >= self.ends

    def _cut(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on a trickling gate
            except OSError:
                pass

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.session.close()


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket under a streamed response (urllib3 2: its http.client response's socket file)."""
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    return getattr(getattr(fp, "raw", None), "_sock", None)


def _error_of(response: requests.Response) -> SyncError:
    try:
        body = json_object(response.content, "error")
    except SyncError:
        body = {}
    if response.status_code == 410 and isinstance(body.get("lowest_seq"), int):
        return Pruned(seq_field(body, "lowest_seq", "410"))
    code = body.get("error") if isinstance(body.get("error"), str) else f"http_{response.status_code}"
    message = body.get("message") if isinstance(body.get("message"), str) else response.reason
    if response.status_code == 401:
        return token_refused()
    return SyncError(code, f"HTTP {response.status_code}: {message}")


def token_refused() -> SyncError:
    return SyncError("unauthorized", "the gate refused the token (wrong or revoked): create one with "
                                     "`kiosk token create` on the gate and `kiosk office gate add` it here")


def measure_offset(client: GateClient, clock: Callable[[], float] = time.time) -> tuple[dict, float]:
    """The gate's health and its clock offset in seconds (gate minus office, at mid-request)."""
    start = clock()
    health = json_object(client.request("GET", "/health").content, "/health")
    end = clock()
    if "clock_utc" not in health:  # the public, minimal answer: the token was not accepted
        raise token_refused()
    for name in ("gate_id", "site_id", "clock_utc"):
        field(health, name, str, "/health")
    seq_field(health, "last_seq", "/health")
    gate_time = parse_utc(health["clock_utc"]).timestamp()
    return health, round(gate_time - (start + end) / 2, 3)


def export_key_of(health: dict) -> str | None:
    """The gate's USB export key from its authenticated ``/health``, checked, or None."""
    text = health.get("export_key")
    if text is None:
        return None
    try:
        parse_public_key_text(field(health, "export_key", str, "/health"))
    except (KeyError, ValueError) as exc:
        raise bad_answer(f"/health: export_key: {exc}") from None
    return text


def pin_export_key(office: Office, name: str) -> str | None:
    """Ask the gate for its export key now (over its token) and pin it unless one is pinned;
    the key pinned afterwards, or None when the gate did not give one."""
    gate = get_gate(office, name)
    if not gate["export_key"] and gate["url"]:
        client = GateClient(gate)
        try:
            key = export_key_of(measure_offset(client)[0])
        finally:
            client.close()
        with writing(office) as conn:
            conn.execute("UPDATE gates SET export_key = coalesce(export_key, ?) WHERE name = ?", [key, name])
    return get_gate(office, name)["export_key"]


def pull_gate(office: Office, name: str, now: Callable[[], datetime], limit: int = 5000) -> PullResult:
    """Fetch, verify and store a gate's new events and shift logs, then acknowledge.

    A chain that seems broken is fetched once more before it is called broken: a duplicated
    line, a stale cached answer or a short read is a transport fault that a second fetch
    does not repeat; tampering does.
    """
    gate = get_gate(office, name)
    result = PullResult(name, last_seq=gate["last_seq"])
    if gate["chain_broken"]:
        result.problem, result.broken = f"chain broken, pulls refused until resolved: {gate['chain_broken']}", True
        return result
    sync = office.config.settings.sync
    client = GateClient(gate, deadline_s=sync.pull_deadline_s)
    _PULLING.client = client
    try:
        lowest = _record_health(office, client, gate, now(), result)
        _pull_events(office, client, name, limit, result)
        gate = get_gate(office, name)
        result.last_seq = gate["last_seq"]
        _reverify(office, client, gate, lowest)
        _pull_shifts(office, client, gate, now())
        _acknowledge(office, client, gate, result, sync.max_clock_offset_s)
    except ChainBreak as exc:
        result.last_seq = get_gate(office, name)["last_seq"]
        _broken(office, result, f"seq after {result.last_seq}: {exc}")
    except Pruned as exc:
        _broken(office, result, f"the gate pruned events this office never stored (its lowest seq is "
                                f"{exc.lowest_seq}, the office holds up to {gate['last_seq']})")
    except SyncError as exc:
        if exc.code == "hash_mismatch":
            _broken(office, result, f"{exc}: the gate's log was rewritten after the office stored it")
        else:
            result.problem = f"[{exc.code}] {exc}"
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        if client.out_of_time():
            result.problem = f"[deadline] {DeadlinePassed(client.deadline_s)}"
        else:
            result.problem = f"unreachable or bad answer: {exc.__class__.__name__}: {exc}"
    except sqlite3.OperationalError as exc:  # still busy after the retries (a long USB import)
        result.problem = f"[busy] the office database stayed busy ({exc}); nothing half stored, pull again"
    except Exception as exc:  # PostgreSQL gone, or a deadlock rolled the batch back
        if not is_store_failure(exc):
            raise
        result.problem = f"[store] the office's PostgreSQL database failed ({exc}); nothing half stored, pull again"
    finally:
        _PULLING.client = None
        client.close()
    return result


def pull_gates(office: Office, names: tuple[str, ...] | list[str], now: Callable[[], datetime], limit: int = 5000,
               workers: int = 8, finished: Callable[[PullResult], None] | None = None) -> list[PullResult]:
    """Pull every networked gate (or the named ones), ``workers`` at a time; a result per gate.

    Each gate is pulled by pull_gate on its own connection to the office's store, so a gate
    that is refused, slow, cut off or broken is only its own result: the others go on.
    ``finished`` is called in this thread with each result as its gate is done.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    gates = [gate["name"] for gate in networked_gates(office, names)]
    results = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
        for future in as_completed([pool.submit(_pull_one, office, name, now, limit) for name in gates]):
            results.append(future.result())
            if finished:
                finished(results[-1])
    return results


def _pull_one(office: Office, name: str, now: Callable[[], datetime], limit: int) -> PullResult:
    try:
        with Office(office.config) as own:  # a connection serves one thread at a time
            return pull_gate(own, name, now, limit)
    except Exception as exc:  # whatever goes wrong with one gate is that gate's result, not the run's end
        return PullResult(name, problem=f"[internal] {exc.__class__.__name__}: {exc}")


BUSY_RETRIES = 3  # an answer is written again when the office database stayed locked (a USB import)


def _pull_events(office: Office, client: GateClient, name: str, limit: int, result: PullResult) -> None:
    transport_retry = True
    while True:
        stored, done, broken = _pull_batch(office, client, get_gate(office, name), limit)
        result.new_events += stored  # the verified rows before a break are kept
        if broken:
            if not transport_retry:
                raise broken
            transport_retry = False  # fetch the rest once more: a transport fault is not repeated
            continue
        client.progressed()
        if done or stored == 0:
            return


def _acknowledge(office: Office, client: GateClient, gate: dict, result: PullResult, max_offset_s: float) -> None:
    """Acknowledge what is stored, unless the gate's clock is too far off for it to prune by."""
    if gate["last_seq"] <= 0:
        return
    offset = result.clock_offset_s
    withheld = None
    if offset is not None and abs(offset) > max_offset_s:
        withheld = (f"not acknowledged: the gate's clock is {offset:+.0f} s off (more than {max_offset_s:g} s); "
                    f"it would prune by a wrong date. Fix its time (chrony, docs/resilience.md)")
    if withheld != gate["ack_withheld"]:  # each write is an fsync, and the other gates' writes wait for it
        with writing(office) as conn:
            conn.execute("UPDATE gates SET ack_withheld = ? WHERE name = ?", [withheld, gate["name"]])
    result.ack_withheld = withheld
    if withheld is None:
        client.request("POST", "/ack", json={"seq": gate["last_seq"], "hash": gate["last_hash"]})


@contextmanager
def pull_lock(office: Office, wait_s: float) -> Iterator[None]:
    """One pull at a time per office: a second run (the timer and a manual run) waits up to
    ``wait_s`` for the first, then says so plainly (SyncError ``pull_running``)."""
    fd = os.open(office.config.home / "pull.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        ends = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= ends:
                    raise SyncError("pull_running", f"another `kiosk office pull` has been running for more "
                                                    f"than {wait_s:g} s here; this one gives way") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


def _broken(office: Office, result: PullResult, message: str) -> None:
    mark_broken(office, result.gate, message)
    result.problem, result.broken = f"CHAIN BROKEN: {message}", True


def _record_health(office: Office, client: GateClient, gate: dict, now: datetime,
                   result: PullResult) -> int:
    """Measure and keep the clock offset; returns the gate's lowest seq."""
    health, offset = measure_offset(client)
    if gate["gate_id"] and health["gate_id"] != gate["gate_id"]:
        raise SyncError("wrong_gate", f"{gate['url']} answers as gate {health['gate_id']!r}, "
                                      f"not {gate['gate_id']!r}")
    _check_head(gate, health)
    with writing(office) as conn:  # checked and claimed at once: two names of one gate pulled together
        twin = conn.execute("SELECT name FROM gates WHERE gate_id = ? AND name != ?",
                            [health["gate_id"], gate["name"]]).fetchone()
        if twin:
            raise SyncError("wrong_gate", f"gate {health['gate_id']!r} is already pulled as {twin[0]!r}")
        conn.execute("UPDATE gates SET gate_id = ?, site_id = ?, clock_offset_s = ?, last_contact_utc = ?, "
                     "export_key = coalesce(export_key, ?) WHERE name = ?",
                     [health["gate_id"], health["site_id"], offset, utc_text(now), export_key_of(health), gate["name"]])
        conn.execute("INSERT INTO clock_offsets VALUES (?, ?, ?)", [gate["name"], utc_text(now), offset])
    result.clock_offset_s = offset
    if health["last_seq"] < gate["last_seq"]:
        raise ChainBreak(f"the gate's log ends at seq {health['last_seq']}, but this office holds its events up to "
                         f"{gate['last_seq']}: events were removed or the gate's log was replaced")
    return seq_field(health, "lowest_seq", "/health", low=1)


def _reverify(office: Office, client: GateClient, gate: dict, lowest: int) -> None:
    """Re-check, in turn, a window of the events the office holds and the gate still has
    against the gate's recomputed hashes: an event edited on the gate after the office stored
    it is a chain break, whether or not the chain was rehashed."""
    first = max(gate["verified_seq"] + 1, lowest)
    if first > gate["last_seq"]:
        first = lowest
    last = min(first + VERIFY_WINDOW - 1, gate["last_seq"])
    if first > last:
        return
    answer = json_object(client.request("GET", "/digest", params={"first": first, "last": last}).content, "/digest")
    lost = json.loads(gate["lost_ranges"] or "[]")  # declared lost on the gate: the office may hold them
    held = [(seq, hash_) for seq, hash_ in office.store.conn.execute(
        "SELECT seq, hash FROM gate_events WHERE gate = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        [gate["name"], first, last]) if not any(low <= seq <= high for low, high in lost)]
    if field(answer, "digest", str, "/digest") != range_digest(held):
        raise ChainBreak(f"events {first}..{last} on the gate differ from those the office stored: "
                         "edited or rewritten on the gate after they were pulled")
    verified = 0 if last >= gate["last_seq"] else last
    if verified != gate["verified_seq"]:
        with writing(office) as conn:
            conn.execute("UPDATE gates SET verified_seq = ? WHERE name = ?", [verified, gate["name"]])


def _check_head(gate: dict, health: dict) -> None:
    """A gate whose log ends before what the office (or its own watermark) already holds lost
    events: a truncated WAL, an old copy restored. New events would reuse their seqs."""
    head, mark = int(health["last_seq"]), health.get("watermark_seq")
    if head < gate["last_seq"]:
        raise ChainBreak(f"the gate's log ends at seq {head} but the office already holds up to seq "
                         f"{gate['last_seq']}: events were lost on the gate (truncated WAL or an old copy)")
    if isinstance(mark, int) and head < mark:
        raise ChainBreak(f"the gate's log ends at seq {head} but its watermark says it reached seq {mark}: "
                         "events were lost on the gate")


def _pull_batch(office: Office, client: GateClient, gate: dict,
                limit: int) -> tuple[int, bool, ChainBreak | None]:
    """One request, read and verified in full, then its rows and the new cursor stored together:
    (rows stored, whether the gate has no more, the chain break that ended the answer early)."""
    response = client.request("GET", "/events", params={"since": gate["last_seq"], "limit": limit}, stream=True)
    batch, broken = VerifiedBatch(gate, office.store), None
    with response:
        try:
            trailer = _read_feed(response, batch, limit)
        except ChainBreak as exc:
            broken, trailer = exc, {"done": True}  # keep the verified rows before the break
        else:
            if trailer is None or trailer["count"] != len(batch.rows):
                raise SyncError("truncated", "the gate's answer ended early; the batch will be fetched again")
    _store_retrying(office, batch)
    return batch.stored, bool(trailer["done"]), broken


def _store_retrying(office: Office, batch: VerifiedBatch) -> None:
    """store_batch, tried again while another process (a long USB import) keeps the database locked."""
    for attempt in range(1, BUSY_RETRIES + 1):
        try:
            return store_batch(office, batch)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == BUSY_RETRIES:
                raise


def _lines(response: requests.Response) -> Iterator[bytes | None]:
    """The answer's newline-ended lines, then None if it stopped inside one."""
    pending = b""
    for chunk in response.iter_content(chunk_size=65536):
        *complete, pending = (pending + chunk).split(b"\n")
        yield from complete
    if pending.strip():
        yield None


def _read_feed(response: requests.Response, batch: VerifiedBatch, limit: int) -> dict | None:
    """Verify every event line into the batch; return the final cursor line (None if cut off).
    The answer is held in memory until it is stored: a gate sending more than asked is refused."""
    for line in _lines(response):
        if line is None:  # the answer stopped inside a line (the gate ends every line): a short read
            return None
        if not line.strip():
            continue
        row = json_object(line, "an event line")
        if "seq" not in row:
            return {"count": seq_field(row, "count", "the cursor line"), "done": field(row, "done", bool, "the cursor line")}
        if len(batch.rows) >= limit:
            raise bad_answer(f"more than the {limit} events asked for")
        batch.add(row)
    return None


def _pull_shifts(office: Office, client: GateClient, gate: dict, now: datetime) -> None:
    since = gate["shifts_since"] or _first_shift_date(office, gate["name"]) or now.date().isoformat()
    earliest = (now.date() - timedelta(days=MAX_SHIFT_DAYS - 1)).isoformat()
    answer = json_object(client.request("GET", "/shifts", params={"since": max(since, earliest)}).content, "/shifts")
    logs = field(answer, "shifts", list, "/shifts")
    for log in logs:
        if not isinstance(log, dict) or not isinstance(log.get("shift_id"), str) or not isinstance(log.get("date"), str):
            raise bad_answer("/shifts: a shift log without shift_id and date")
    if not logs:
        return
    with writing(office) as conn:
        for log in logs:
            conn.execute("INSERT INTO gate_shift_logs VALUES (?, ?, ?, ?) ON CONFLICT (gate, shift_id) DO UPDATE "
                         "SET log = excluded.log, pulled_utc = excluded.pulled_utc",
                         [gate["name"], log["shift_id"], json.dumps(log, ensure_ascii=False), utc_text(now)])
        # next time start from the shift that was open now
        conn.execute("UPDATE gates SET shifts_since = ? WHERE name = ?", [logs[-1]["date"], gate["name"]])


def _first_shift_date(office: Office, name: str) -> str | None:
    row = office.store.conn.execute("SELECT min(shift_id) FROM gate_events WHERE gate = ? AND shift_id IS NOT NULL",
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
                answer = json_object(client.request("PUT", "/registry", data=path.read_bytes(),
                                                    headers={"Content-Type": "application/octet-stream"}).content,
                                     "/registry")
                results.append((gate["name"], None, f"registry version {seq_field(answer, 'version', '/registry')} loaded"))
            except SyncError as exc:
                results.append((gate["name"], f"[{exc.code}] {exc}", ""))
            except (requests.RequestException, ValueError, KeyError) as exc:
                results.append((gate["name"], f"unreachable or bad answer: {exc.__class__.__name__}: {exc}", ""))
            finally:
                client.close()
    return results
