"""Who an event is about, as the web page shows it: masked names, households, search."""

from __future__ import annotations

import json
import re

import sqlite_utils

from kiosk.core.names import mask_name
from kiosk.store import registry

HOUSEHOLD_QUERY = re.compile(r"^\s*(\w+)\s*[-－/]\s*(\w+)\s*[-－/]\s*(\w+)\s*$")


def household_label(db: sqlite_utils.Database, household_id: str | None) -> str:
    """楼-单元-室 (building-unit-room) of a household, or '' when unknown."""
    row = registry.get_household(db, household_id)
    return f"{row['building']}-{row['unit']}-{row['room']}" if row else ""


def subject_name(db: sqlite_utils.Database, event: dict) -> str:
    """The full name (or plate) behind an event; callers mask it for display."""
    if event["kind"] == "returnee":
        return json.loads(event["data"]).get("name", "")
    if event["subject_kind"] == "vehicle":
        return event["plate"] or event["subject_id"] or ""
    find = registry.get_visitor if event["subject_kind"] == "visitor" else registry.get_person
    person = find(db, event["subject_id"]) if event["subject_id"] else None
    return person["name"] if person else ""


def search_persons(db: sqlite_utils.Database, text: str, limit: int = 20) -> list[dict]:
    """Persons found by household (``2-1-302``) or by part of a name, with their active passes."""
    text = (text or "").strip()
    if not text:
        return []
    literal = re.sub(r"([\\%_])", r"\\\1", text)  # a typed % or _ is part of a name, not a wildcard
    where, params = "p.name LIKE ? ESCAPE '\\'", [f"%{literal}%"]
    if match := HOUSEHOLD_QUERY.match(text):
        where, params = "h.building = ? AND h.unit = ? AND h.room = ?", list(match.groups())
    rows = db.query(
        f"SELECT p.id, p.name, p.household_id, h.building, h.unit, h.room, "
        f"(SELECT group_concat(s.id) FROM passes s WHERE s.subject_kind = 'resident' "
        f" AND s.subject_id = p.id AND s.status = 'active') AS pass_ids "
        f"FROM persons p LEFT JOIN households h ON h.id = p.household_id WHERE {where} "
        f"ORDER BY h.building, h.unit, h.room, p.id LIMIT ?", [*params, limit])
    return [{"id": row["id"], "name": row["name"], "masked": mask_name(row["name"]),
             "household": f"{row['building']}-{row['unit']}-{row['room']}" if row["building"] else "",
             "pass_ids": (row["pass_ids"] or "").split(",") if row["pass_ids"] else []}
            for row in rows]
