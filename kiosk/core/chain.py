"""The event log's hash chain: what each event's hash covers and how a run of rows is checked.

``hash = SHA-256(canonical JSON of the event including prev_hash)``; the gate stores it
(kiosk.store.events), the office recomputes it (kiosk.office.pull, kiosk.office.usb_import).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

GENESIS_HASH = "0" * 64
# The kind of event a supervisor records after events were lost on the gate (a truncated WAL):
# it declares the lost seqs (data: lost_from, lost_to) and takes the seq after them, so the seqs
# the office may already hold are never used again. Its prev_hash is the surviving head's hash.
LOG_GAP = "log_gap"
# The fields covered by the hash, in the order they are stored.
HASHED_FIELDS = (
    "seq", "id", "gate_id", "site_id", "lane", "direction", "kind", "outcome", "codes",
    "pass_id", "subject_kind", "subject_id", "household_id", "plate", "temperature",
    "guard_id", "shift_id", "ts_utc", "ts_local", "tz", "clock_synced", "nonce", "data",
    "prev_hash",
)

# Canonical JSON: keys sorted, no spaces, UTF-8 text. The keys are put in sorted order once here
# and one encoder serves every event, which gives the text of json.dumps(sort_keys=True) at a
# fraction of its cost (the office hashes every pulled event: a million in a 90-day log).
_SORTED_FIELDS = tuple(sorted(HASHED_FIELDS))
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def event_hash(event: dict[str, Any]) -> str:
    """The chain hash of an event row (all hashed fields, canonical JSON)."""
    canonical = _CANONICAL.encode({name: event.get(name) for name in _SORTED_FIELDS})
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ChainReport:
    ok: bool
    checked: int
    problems: list[str]


def verify_rows(rows: Iterable[dict], start_seq: int, start_hash: str) -> ChainReport:
    """Check that rows continue the chain from (start_seq, start_hash) with no gap or edit."""
    problems: list[str] = []
    expected_seq, prev = start_seq + 1, start_hash
    checked = 0
    for row in rows:
        checked += 1
        if row["seq"] != expected_seq and declared_gap(row) != (expected_seq, row["seq"] - 1):
            problems.append(f"seq {row['seq']}: expected seq {expected_seq} (events missing)")
        if row["prev_hash"] != prev:
            problems.append(f"seq {row['seq']}: prev_hash does not match the previous event")
        if event_hash(row) != row["hash"]:
            problems.append(f"seq {row['seq']}: content does not match its hash (altered)")
        expected_seq, prev = row["seq"] + 1, row["hash"]
    return ChainReport(ok=not problems, checked=checked, problems=problems)


def declared_gap(row: dict) -> tuple[int, int] | None:
    """(lost_from, lost_to) of a well-formed ``log_gap`` event (it comes right after the range),
    else None."""
    if row.get("kind") != LOG_GAP:
        return None
    try:
        data = json.loads(row["data"]) if isinstance(row.get("data"), str) else None
        lost = int(data["lost_from"]), int(data["lost_to"])
    except (ValueError, TypeError, KeyError):
        return None
    return lost if lost[0] <= lost[1] and lost[1] + 1 == row.get("seq") else None
