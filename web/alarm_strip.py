"""The guard screen's alarm strip: alarms that stay until a guard acknowledges them.

An alarm is a decision event with an alarm code (fever, isolation, quarantine, high-risk
returnee, ...), a forged pass (``bad_signature``, ``unknown_key``), or a lane device that
has failed. Events stay on the strip until an ``ack`` event names them (one tap,
recorded with the guard); a failed device stays while it is failed. The incoming guard's
handover note (the last sign-off's) is acknowledged the same way, at sign-on.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from kiosk.core.clock import utc_text
from kiosk.core.codes import codes_with
from kiosk.core.event_kinds import kinds_with
from kiosk.store import lane_state
from web.lookup import mask_name, subject_name

STRIP_CODES = tuple(dict.fromkeys(codes_with(alarm=True) + ("bad_signature", "unknown_key")))
DECISION_KINDS = kinds_with(decision=True)
KEPT_HOURS = 24  # an alarm nobody acknowledged for a day is the office's business (alert list)
FAILED_DEVICE_STATES = ("error", "absent")


def pending_alarms(gate, now: datetime, limit: int = 20) -> list[dict]:
    """Unacknowledged alarm events, newest first."""
    kinds = ",".join("?" for _ in DECISION_KINDS)
    codes = ",".join("?" for _ in STRIP_CODES)
    rows = gate.db.query(
        f"SELECT * FROM events e WHERE kind IN ({kinds}) AND ts_utc >= ? "
        f"AND EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value IN ({codes})) "
        f"AND NOT EXISTS (SELECT 1 FROM events a WHERE a.kind = 'ack' AND a.nonce = 'ack:' || e.id) "
        f"AND NOT EXISTS (SELECT 1 FROM events o WHERE o.kind = 'override' AND o.nonce = 'override:' || e.id) "
        f"ORDER BY seq DESC LIMIT ?",
        [*DECISION_KINDS, utc_text(now - timedelta(hours=KEPT_HOURS)), *STRIP_CODES, limit])
    return [{"id": row["id"], "lane": row["lane"], "time": row["ts_local"][11:16],
             "codes": [code for code in json.loads(row["codes"]) if code in STRIP_CODES],
             "name": mask_name(subject_name(gate.db, row)) if row["subject_kind"] != "vehicle" else row["plate"]}
            for row in rows]


def failed_devices(gate) -> list[dict]:
    """Lane devices reported failed by the scan loop: on the strip while they are failed."""
    return [{"lane": row["lane"], "device": device}
            for row in lane_state.lane_statuses(gate.db)
            for device in ("camera", "thermometer") if row.get(device) in FAILED_DEVICE_STATES]


def pending_handover(gate, now: datetime) -> dict | None:
    """The latest sign-off's handover note within a day, unless a guard has acknowledged it."""
    rows = list(gate.db.query(
        "SELECT * FROM events e WHERE kind = 'sign_off' AND ts_utc >= ? "
        "AND COALESCE(json_extract(data, '$.handover_note'), '') != '' ORDER BY seq DESC LIMIT 1",
        [utc_text(now - timedelta(hours=KEPT_HOURS))]))
    if not rows or _acknowledged(gate, rows[0]["id"]):
        return None
    names = {row["id"]: row["name"] for row in gate.db.query("SELECT id, name FROM guards")}
    event = rows[0]
    return {"id": event["id"], "guard_id": event["guard_id"], "name": names.get(event["guard_id"], ""),
            "time": event["ts_local"][5:16].replace("T", " "), "note": json.loads(event["data"])["handover_note"]}


def acknowledge(gate, event_id: str, guard_id: str, now: datetime) -> dict:
    """Record that ``guard_id`` saw the alarm or handover note ``event_id``, once (a second tap returns
    the first). LookupError for an event that is neither pending nor acknowledged."""
    pending = {alarm["id"] for alarm in pending_alarms(gate, now, limit=10_000)}
    handover = pending_handover(gate, now)
    if event_id not in pending and not (handover and handover["id"] == event_id) \
            and not _acknowledged(gate, event_id):
        raise LookupError(event_id)
    return gate.record("ack", now, guard_id=guard_id, nonce=f"ack:{event_id}", data={"acknowledges": event_id})


def _acknowledged(gate, event_id: str) -> bool:
    return gate.db.conn.execute("SELECT 1 FROM events WHERE nonce = ?", [f"ack:{event_id}"]).fetchone() is not None
