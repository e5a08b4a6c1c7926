"""The office's read models over every gate's pulled events (Flask-free).

Rows come from the office's ``gate_events`` joined with its own registry (names, households,
cadres as the office holds them today). Pages are keyset-paged on (ts_utc, gate, seq), newest
first, so the thousandth page costs what the first does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Mapping

import sqlite_utils

from kiosk.core.event_kinds import kinds_with
from kiosk.core.plates import normalise_plate
from kiosk.store import office_indexes
from kiosk.store.levels import Levels
from kiosk.store.postgres import PgDatabase

PAGE_SIZE = 50
COUNT_CAP = 10_000  # events counted exactly; more is shown as "10,000+"
OPEN_ALERTS_CAP = 999  # open alerts counted exactly on the overview
LANE_SAMPLE = 5_000  # the newest events whose lanes the filter offers
PASSAGE_KINDS = kinds_with(passage=True)
# The office's copy of an event with who it was about, as the office registry knows them today.
EVENT_ROWS = """
SELECT e.*, p.name AS person_name, p.phone AS person_phone,
       h.building, h.unit, h.room, hl.cadre_name, hl.cadre_phone, hl.status AS health_status
FROM gate_events e
LEFT JOIN persons p ON p.id = e.subject_id AND COALESCE(e.subject_kind, '') != 'vehicle'
LEFT JOIN households h ON h.id = e.household_id
LEFT JOIN health hl ON hl.person_id = p.id
"""


def marks(values) -> str:
    """``?,?,?``: one placeholder per value, for an IN list."""
    return ",".join("?" for _ in values)


@dataclass(frozen=True)
class OfficeFilter:
    """What the office asked for; every field optional, empty means any.

    ``start`` and ``end`` are local date-times (``YYYY-MM-DDTHH:MM``, as a datetime-local
    field sends them) compared with each event's local time.
    """

    start: str = ""
    end: str = ""
    site: str = ""
    gate: str = ""
    lane: str = ""
    shift: str = ""
    outcome: str = ""
    code: str = ""
    person: str = ""  # a resident's id or full name
    household: str = ""
    plate: str = ""
    kind: str = ""  # "passages": only decisions about passing (contact tracing)
    community: str = ""
    community_sites: tuple[str, ...] = field(default=(), metadata={"derived": True})  # of ``community``

    @classmethod
    def from_args(cls, args: Mapping[str, str], levels: Levels | None = None) -> "OfficeFilter":
        given = {f.name: (args.get(f.name) or "").strip() for f in fields(cls) if not f.metadata.get("derived")}
        sites = levels.sites_of(given["community"]) if levels and given["community"] else ()
        return cls(**given, community_sites=sites)

    def where(self) -> tuple[str, list]:
        clauses, params = ["1 = 1"], []

        def add(clause: str, *values) -> None:
            clauses.append(clause)
            params.extend(values)

        # Local times, compared with each event's own; the UTC bound a day wider (no zone is a
        # day off UTC) lets the time index narrow the walk to the range.
        if self.start:
            add("e.ts_local >= ? AND e.ts_utc >= ?", self.start, _shifted(self.start, -1))
        if self.end:
            add("e.ts_local < ? AND e.ts_utc < ?", self.end, _shifted(self.end, 1))
        for column in ("gate", "lane", "outcome"):
            if getattr(self, column):
                add(f"e.{column} = ?", getattr(self, column))
        if self.site:
            add("e.site_id = ?", self.site)
        if self.community:  # an unknown community has no compounds: nothing matches
            add(f"e.site_id IN ({marks(self.community_sites) or 'NULL'})", *self.community_sites)
        if self.shift:
            add("substr(e.shift_id, 12) = ?", self.shift)  # shift ids are YYYY-MM-DD/<key>
        if self.code:  # walks only the events with a code (gate_events_coded)
            add(f"e.{office_indexes.CODED} AND EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value = ?)", self.code)
        if self.person:
            add("(e.subject_id = ? OR e.subject_id IN (SELECT id FROM persons WHERE name = ?))",
                self.person, self.person)
        if self.household:
            add("e.household_id = ?", self.household)
        if self.plate:
            add("(e.plate = ? OR (e.subject_kind = 'vehicle' AND e.subject_id = ?))",
                normalise_plate(self.plate), normalise_plate(self.plate))
        if self.kind == "passages":
            add(f"e.kind IN ({marks(PASSAGE_KINDS)})", *PASSAGE_KINDS)
        return " AND ".join(clauses), params

    def query_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) and not f.metadata.get("derived")}


def _shifted(local: str, days: int) -> str:
    try:
        return (datetime.fromisoformat(local) + timedelta(days=days)).isoformat()
    except ValueError:
        return "9999" if days > 0 else ""  # not a date-time: the local bound alone decides


def cursor_of(row: dict) -> str:
    """The keyset position after ``row``: its UTC time, gate and seq."""
    return f"{row['ts_utc']}|{row['gate']}|{row['seq']}"


def _after(cursor: str) -> tuple[str, list]:
    parts = cursor.split("|")
    if len(parts) != 3 or not parts[2].isascii() or not parts[2].isdecimal():
        return "1 = 1", []
    return "(e.ts_utc, e.gate, e.seq) < (?, ?, ?)", [parts[0], parts[1], min(int(parts[2]), 2**63 - 1)]


def find_events(db: sqlite_utils.Database, flt: OfficeFilter, after: str = "",
                limit: int | None = PAGE_SIZE) -> list[dict]:
    """The filtered events newest first, from just after the ``after`` cursor; all when ``limit`` is None."""
    where, params = flt.where()
    keyset, more = _after(after) if after else ("1 = 1", [])
    sql = f"{EVENT_ROWS} WHERE {where} AND {keyset} ORDER BY e.ts_utc DESC, e.gate DESC, e.seq DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return list(db.query(sql, [*params, *more]))


def count_events(db: sqlite_utils.Database, flt: OfficeFilter, cap: int = COUNT_CAP) -> int:
    """How many events match, counted up to ``cap`` + 1 (shown as "10,000+"): an exact total of a
    million rows would read them all on every page, as search engines know."""
    where, params = flt.where()
    return db.conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM gate_events e WHERE {where} LIMIT ?) AS hits",
                           [*params, cap + 1]).fetchone()[0]


def choices(db: sqlite_utils.Database, sites: list[str]) -> dict:
    """What the filter lists offer: the configured compounds, the gates, the lanes of recent events."""
    def column(sql: str) -> list[str]:
        return [row[0] for row in db.conn.execute(sql) if row[0] is not None]

    return {"sites": sites,
            "gates": column("SELECT name FROM gates ORDER BY name"),
            "lanes": column(f"SELECT DISTINCT lane FROM (SELECT lane FROM gate_events ORDER BY ts_utc DESC "
                            f"LIMIT {LANE_SAMPLE}) AS recent WHERE lane IS NOT NULL ORDER BY lane")}


# --- alerts ----------------------------------------------------------------------------

# What followed a refusal: the fever re-measurement, and the override that let the person through
# (of the refusal itself or of its re-measurement); both found through the refused event's id
# (``+e.id``: a plain column's TEXT affinity would keep SQLite off the expression index).
OVERRIDE = ("json_object('ts_local', o.ts_local, 'guard_id', o.guard_id, 'reason', json_extract(o.data, '$.reason')) "
            "FROM gate_events o WHERE o.kind = 'override'")
FOLLOW_UPS = f"""
, COALESCE((SELECT {OVERRIDE} AND o.gate = e.gate AND json_extract(o.data, '$.overrides') = +e.id LIMIT 1),
   (SELECT {OVERRIDE} AND o.gate = e.gate AND json_extract(o.data, '$.overrides') = (
        SELECT +r.id FROM gate_events r WHERE r.gate = e.gate AND json_extract(r.data, '$.remeasure_of.id') = +e.id
        ORDER BY r.seq LIMIT 1) LIMIT 1)) AS override_json
, (SELECT json_object('ts_local', r.ts_local, 'temperature', r.temperature, 'outcome', r.outcome)
   FROM gate_events r WHERE r.gate = e.gate AND json_extract(r.data, '$.remeasure_of.id') = +e.id
   ORDER BY r.seq LIMIT 1) AS remeasure_json
"""
OPEN = "NOT EXISTS (SELECT 1 FROM alert_acks a WHERE a.event_id = e.id)"


def find_alerts(db: sqlite_utils.Database, flt: OfficeFilter, open_only: bool = False, after: str = "",
                limit: int | None = PAGE_SIZE) -> list[dict]:
    """Alert events of every gate, newest first, with names, cadre, acknowledgement and what followed."""
    where, params = flt.where()
    keyset, more = _after(after) if after else ("1 = 1", [])
    acked = f" AND {OPEN}" if open_only else ""
    sql = (EVENT_ROWS.replace("SELECT e.*,", f"SELECT e.*, a.acked_by, a.note AS ack_note, a.acked_at {FOLLOW_UPS},")
           + f" LEFT JOIN alert_acks a ON a.event_id = e.id WHERE {where} AND {office_indexes.alert('e.')} AND "
           f"{keyset}{acked} ORDER BY e.ts_utc DESC, e.gate DESC, e.seq DESC")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = list(db.query(sql, [*params, *more]))
    for row in rows:
        row["override"] = json.loads(row.pop("override_json") or "null")
        row["remeasure"] = json.loads(row.pop("remeasure_json") or "null")
    return rows


def count_open_alerts(db: sqlite_utils.Database, cap: int = OPEN_ALERTS_CAP) -> int:
    """Unacknowledged alerts up to ``cap`` + 1, walking only the alerts' index."""
    return db.conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM gate_events e WHERE {office_indexes.alert('e.')} "
                           f"AND {OPEN} LIMIT ?) AS hits", [cap + 1]).fetchone()[0]


# --- who is inside now -----------------------------------------------------------------

def _last_passages(db: sqlite_utils.Database, who: str, condition: str, site: str, until: str) -> list[dict]:
    """Per ``who`` (a column expression) in the compound, the last allowed passage before ``until``
    (a local time; '' for now), if it was in and no face check undid it (someone else's pass,
    stopped: the holder did not go in). A loose index scan: the index gives each person (or
    vehicle) once, then their newest passage, so the cost grows with the residents, not the log."""
    walk = f"FROM gate_events e WHERE {condition} AND e.site_id = :site"
    newest = (f"{walk} AND {who} = walk.who AND (:until = '' OR e.ts_local < :until) "
              "ORDER BY e.ts_utc DESC, e.gate DESC, e.seq DESC LIMIT 1")
    # Each walked id's newest passage: SQLite finds it by key; PostgreSQL plans the same join
    # as a loop over every passage in, so it gets the row from a LATERAL subquery instead.
    last = (f"CROSS JOIN LATERAL (SELECT e.* {newest}) x" if isinstance(db, PgDatabase)
            else f"JOIN gate_events x ON (x.gate, x.seq) = (SELECT e.gate, e.seq {newest})")
    return list(db.query(
        f"""WITH RECURSIVE walk(who) AS (
            SELECT (SELECT min({who}) {walk})
            UNION ALL SELECT (SELECT min({who}) {walk} AND {who} > walk.who) FROM walk WHERE walk.who IS NOT NULL)
        SELECT x.*, walk.who AS who, p.name AS person_name, h.building, h.unit, h.room FROM walk
        {last}
        LEFT JOIN persons p ON p.id = x.subject_id AND COALESCE(x.subject_kind, '') != 'vehicle'
        LEFT JOIN households h ON h.id = x.household_id
        WHERE x.direction = 'in' AND NOT EXISTS (SELECT 1 FROM gate_events f WHERE f.kind = 'face_check'
            AND {office_indexes.face_checked("f.")} = x.id)
        ORDER BY x.ts_utc, walk.who""",
        {"site": site, "until": until}))


def inside_now(db: sqlite_utils.Database, sites: list[str], until: str = "") -> dict[str, dict]:
    """Per compound: persons and vehicles whose last allowed passage (before ``until``) was in.

    Not a census: whoever passed without any record (or before the records) is not known, and
    a passage by override or without a scan is counted but flagged (``caveat``).
    """
    result: dict[str, dict] = {}
    for site in sites:
        persons = _last_passages(db, "e.subject_id", office_indexes.person_passage("e."), site, until)
        vehicles = _last_passages(db, office_indexes.vehicle_key("e."), office_indexes.vehicle_passage("e."),
                                  site, until)
        for kind, rows in (("persons", persons), ("vehicles", vehicles)):
            for row in rows:
                row["caveat"] = caveat_of(row)
                result.setdefault(site, {"persons": [], "vehicles": []})[kind].append(row)
    return dict(sorted(result.items()))


def caveat_of(event: dict) -> str:
    """Why a passage is less certain: ``override`` (let through after a refusal), ``no_scan``
    (a pass number typed or the gate opened by hand), or '' for a scanned pass."""
    if event["kind"] == "override":
        return "override"
    return "" if event["kind"] == "scan" else "no_scan"
