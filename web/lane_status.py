"""What the guard screen shows: the latest decision per lane and the status bar."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.codes import codes_with
from kiosk.core.event_kinds import kinds_with
from kiosk.gate.service import PERSON_KINDS
from kiosk.store import guards, lane_state, photos, registry
from kiosk.store.shift_logs import shift_log
from web.lookup import household_label, mask_name, subject_name

# Events that show a decision on a lane's card.
DECISION_KINDS = kinds_with(decision=True)
PASSAGE_KINDS = kinds_with(passage=True)
PASS_CHECK_KINDS = kinds_with(pass_check=True)
# Codes that must be impossible to miss (colour, size, sound).
ALARM_CODES = codes_with(alarm=True)
ISOLATION_CODES = ("home_isolation", "central_quarantine")
REGISTRY_STALE_HOURS = 24


def latest_decision(db: sqlite_utils.Database, lane: str) -> dict | None:
    marks = ",".join("?" for _ in DECISION_KINDS)
    rows = list(db.query(f"SELECT * FROM events WHERE lane = ? AND kind IN ({marks}) ORDER BY seq DESC LIMIT 1",
                         [lane, *DECISION_KINDS]))
    return rows[0] if rows else None


def decisions_after(db: sqlite_utils.Database, seq: int, limit: int = 50) -> list[dict]:
    """Decision events newer than ``seq`` (what the live stream sends)."""
    marks = ",".join("?" for _ in DECISION_KINDS)
    return list(db.query(f"SELECT * FROM events WHERE seq > ? AND kind IN ({marks}) ORDER BY seq LIMIT ?",
                         [seq, *DECISION_KINDS, limit]))


def last_seq(db: sqlite_utils.Database) -> int:
    return db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]


def lane_card(gate, lane: dict, event: dict | None) -> dict:
    """A lane's card: its latest decision, with the person masked, the alarm flag and the facts
    the guard needs (the responsible cadre, who used the household's quota)."""
    db = gate.db
    card = {"lane": lane["id"], "direction": lane["direction"], "event": None}
    if event is None:
        return card
    codes = json.loads(event["codes"])
    name = subject_name(db, event)
    card["event"] = {
        "seq": event["seq"], "id": event["id"], "kind": event["kind"], "outcome": event["outcome"],
        "codes": codes, "direction": event["direction"], "temperature": event["temperature"],
        "time": event["ts_local"][11:19], "plate": event["plate"],
        "name": name if event["subject_kind"] == "vehicle" else mask_name(name),  # plates are not masked
        "household": household_label(db, event["household_id"]) or json.loads(event["data"]).get("household", ""),
        "alarm": any(code in ALARM_CODES for code in codes),
        "cadre": _cadre(db, event) if set(codes) & set(ISOLATION_CODES) else None,
        "quota": _quota(gate, event) if "household_quota" in codes else None,
        "photo": _photo(db, event),
    }
    return card


def shown_person(db: sqlite_utils.Database, event_id: str) -> str | None:
    """The resident whose photo a lane card shows beside this decision (the photo's route serves
    no other), or None."""
    marks = ",".join("?" for _ in DECISION_KINDS)
    row = db.conn.execute(f"SELECT subject_id FROM events WHERE id = ? AND kind IN ({marks}) "
                          f"AND subject_kind = 'resident'", [event_id, *DECISION_KINDS]).fetchone()
    return row[0] if row else None


def _photo(db: sqlite_utils.Database, event: dict) -> dict | None:
    """The holder's photo beside a decision on a person (the driver in a vehicle passage): its
    digest (None: no photo on file) and whether the guard can report the face as not matching."""
    if event["subject_kind"] not in PERSON_KINDS or not event["subject_id"]:
        return None
    digest = photos.photo_digest(db, event["subject_id"]) if event["subject_kind"] == "resident" else None
    return {"digest": digest, "reportable": digest is not None and event["kind"] in PASS_CHECK_KINDS}


def _direction(gate, lane_id: str) -> str | None:
    return next((lane["direction"] for lane in gate.config["lanes"] if lane["id"] == lane_id), None)


def _cadre(db: sqlite_utils.Database, event: dict) -> dict | None:
    """The cadre responsible for an isolated or quarantined person (from the registry's health list)."""
    health = registry.get_health(db, event["subject_id"]) if event["subject_kind"] == "resident" else None
    if not health or not (health["cadre_name"] or health["cadre_phone"]):
        return None
    return {"name": health["cadre_name"] or "", "phone": health["cadre_phone"] or ""}


def _quota(gate, event: dict) -> dict:
    """Who of the household went out within the quota window, and when the quota renews."""
    days = gate.rules().household_quota_days
    decided = parse_utc(event["ts_utc"])
    marks = ",".join("?" for _ in PASSAGE_KINDS)
    rows = list(gate.db.query(
        f"SELECT subject_id, MIN(ts_utc) AS first_utc, MAX(ts_local) AS last_local FROM events "
        f"WHERE household_id = ? AND direction = 'out' AND outcome = 'allow' AND kind IN ({marks}) "
        f"AND subject_kind != 'vehicle' AND subject_id != ? AND ts_utc >= ? AND seq < ? "
        f"GROUP BY subject_id ORDER BY first_utc",
        [event["household_id"], *PASSAGE_KINDS, event["subject_id"], utc_text(decided - timedelta(days=days)),
         event["seq"]]))
    renews = parse_utc(rows[0]["first_utc"]) + timedelta(days=days) if rows else None
    return {"out": [{"name": mask_name(_person_name(gate.db, row["subject_id"])),
                     "time": row["last_local"][5:16].replace("T", " ")} for row in rows],
            "renews": renews.astimezone(ZoneInfo(gate.tz)).strftime("%m-%d %H:%M") if renews else None}


def _person_name(db: sqlite_utils.Database, person_id: str) -> str:
    person = registry.get_person(db, person_id)
    return person["name"] if person else person_id


def status(gate, now: datetime) -> dict:
    """The status bar: duty, shift counts, devices, registry age, office contact, clock, disk."""
    db = gate.db
    ref = gate.shift(now)
    log = shift_log(db, ref)
    meta = registry.meta(db)
    age_h = (now - parse_utc(meta["issued_utc"])).total_seconds() / 3600 if meta.get("issued_utc") else None
    devices = {row["lane"]: row for row in lane_state.lane_statuses(db)}
    contact = db.conn.execute("SELECT value FROM sync_state WHERE key = 'office_last_contact_utc'").fetchone()
    names = {row["id"]: row["name"] for row in db.query("SELECT id, name FROM guards")}
    return {
        "on_duty": [{"guard_id": row["guard_id"], "name": names.get(row["guard_id"], ""), "lane": row["lane"],
                     "direction": _direction(gate, row["lane"]),
                     "earlier_shift": parse_utc(row["on_utc"]) < ref.start}  # left signed on: flagged
                    for row in guards.open_duty(db)],
        "shift": ref,
        "counts": {"in": log["entries"]["persons"] + log["entries"]["vehicles"],
                   "out": log["exits"]["persons"] + log["exits"]["vehicles"],
                   "refused": sum(log["refusals_by_code"].values()), "fever": log["fevers"]},
        "lanes": [{"lane": lane["id"], "direction": lane["direction"], "camera": devices.get(lane["id"], {}).get("camera") or "unknown",
                   "thermometer": devices.get(lane["id"], {}).get("thermometer") or "unknown"}
                  for lane in gate.config["lanes"]],
        "registry": {"version": meta.get("version"), "age_hours": age_h,
                     "stale": age_h is None or age_h > REGISTRY_STALE_HOURS},
        "office_contact": _local_minute(contact[0], gate.tz) if contact else None,
        "clock_synced": gate.clock.synchronised(),
        "free_disk_mb": shutil.disk_usage(gate.config.home).free // 2**20,
    }


def _local_minute(utc: str, tz_name: str) -> str:
    """A stored UTC time as the gate's local 'YYYY-MM-DD HH:MM' (the guard reads local time)."""
    return parse_utc(utc).astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M")
