"""Sync benchmark: pull throughput and peak memory of the gate server and office client.

Run: python -m bench.sync [--sizes 10000,1000000]
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import sqlite_utils

from kiosk.clock import utc_text
from kiosk.db import transaction
from kiosk.events import HASHED_FIELDS, chain_head, event_hash

INSERT = (f"INSERT INTO events ({', '.join(HASHED_FIELDS)}, hash) "
          f"VALUES ({', '.join('?' for _ in HASHED_FIELDS)}, ?)")


def synthetic_events(gate_id: str, site_id: str, start_seq: int, prev_hash: str, count: int,
                     start: datetime, step_s: float = 1.0, tz: str = "Asia/Shanghai") -> Iterator[list]:
    """Rows of a valid chain (test and benchmark data), one every ``step_s`` seconds."""
    zone = ZoneInfo(tz)
    for n in range(count):
        moment = start + timedelta(seconds=n * step_s)
        event = {"seq": start_seq + n + 1, "id": str(uuid.uuid4()), "gate_id": gate_id, "site_id": site_id,
                 "lane": "in" if n % 2 == 0 else "out", "direction": "in" if n % 2 == 0 else "out",
                 "kind": "scan", "outcome": "allow", "codes": "[]", "pass_id": f"P{n % 97:010d}",
                 "subject_kind": "resident", "subject_id": f"R{n % 3600:04d}", "household_id": None,
                 "plate": None, "temperature": 36.5 if n % 2 == 0 else None, "guard_id": "G001",
                 "shift_id": None, "ts_utc": utc_text(moment),
                 "ts_local": moment.astimezone(zone).isoformat(timespec="milliseconds"), "tz": tz,
                 "clock_synced": 1, "nonce": None, "data": "{}", "prev_hash": prev_hash}
        prev_hash = event_hash(event)
        yield [event[name] for name in HASHED_FIELDS] + [prev_hash]


def fill_events(db: sqlite_utils.Database, count: int, start: datetime, gate_id: str, site_id: str,
                step_s: float = 1.0) -> tuple[int, str]:
    """Append ``count`` synthetic events in one transaction; returns the new chain head."""
    with transaction(db) as conn:
        seq, prev = chain_head(db)
        conn.executemany(INSERT, synthetic_events(gate_id, site_id, seq, prev, count, start, step_s))
    return chain_head(db)
