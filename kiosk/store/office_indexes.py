"""The office page's conditions on ``gate_events`` and the partial indexes built on them.

SQLite uses a partial index only when the query repeats the index's WHERE terms, written with
literal values (a bound parameter cannot be proved to match). So each condition is written once
here and used both by the migration and by the read models (web/office_query.py, with the
table's alias as ``prefix``): the two cannot drift apart. tests/web/test_office_scale.py checks
with EXPLAIN QUERY PLAN that every office page's query is an index search or bounded.

A decision code or passage kind added later changes these texts: it needs a migration that
drops and recreates the indexes (until then the pages stay right, only slower).
"""

from __future__ import annotations

from kiosk.core.codes import codes_with
from kiosk.core.event_kinds import kinds_with

CODED = "codes != '[]'"  # events with any decision code: a few in a hundred


def _quoted(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def passage(prefix: str = "") -> str:
    """An allowed passage in or out (what "who is inside" follows)."""
    p = prefix
    return (f"{p}kind IN ({_quoted(kinds_with(passage=True))}) AND {p}outcome = 'allow' "
            f"AND {p}direction IN ('in', 'out')")


def person_passage(prefix: str = "") -> str:
    p = prefix
    return f"{passage(p)} AND {p}subject_id IS NOT NULL AND COALESCE({p}subject_kind, '') != 'vehicle'"


def vehicle_passage(prefix: str = "") -> str:
    p = prefix
    return f"{passage(p)} AND ({p}plate IS NOT NULL OR {p}subject_kind = 'vehicle')"


def vehicle_key(prefix: str = "") -> str:
    return f"COALESCE({prefix}plate, {prefix}subject_id)"


def alert(prefix: str = "") -> str:
    """An event the office must see: an override, events a gate declared lost (``log_gap``: its
    supervisor let recording go on after the card lost them), or a refusal with an alerting code.
    ``codes`` is the JSON list of code ids (``["fever"]``), so a quoted id matches exactly one code."""
    p = prefix
    codes = " OR ".join(f"{p}codes LIKE '%\"{code}\"%'" for code in codes_with(office_alert=True))
    return f"({p}kind IN ('override', 'log_gap') OR {codes})"


# Office migration: a compound's events, an outcome's, and the events with a code, each in time
# order (the pages' filters and counts); who is inside walks one entry per person (or vehicle) and compound (a loose
# index scan, then the newest entry of each); alerts walk only alerts in time order; what followed
# a refusal (its override, its re-measurement) is found by the refused event's id.
OFFICE_PAGE_INDEXES = f"""
CREATE INDEX gate_events_person_passages ON gate_events(site_id, subject_id, ts_utc, gate, seq)
    WHERE {person_passage()};
CREATE INDEX gate_events_vehicle_passages ON gate_events(site_id, {vehicle_key()}, ts_utc, gate, seq)
    WHERE {vehicle_passage()};
CREATE INDEX gate_events_site ON gate_events(site_id, ts_utc, gate, seq);
CREATE INDEX gate_events_outcome ON gate_events(outcome, ts_utc, gate, seq);
CREATE INDEX gate_events_coded ON gate_events(ts_utc, gate, seq) WHERE {CODED};
CREATE INDEX gate_events_alerts ON gate_events(ts_utc, gate, seq) WHERE {alert()};
CREATE INDEX gate_events_overrides ON gate_events(gate, json_extract(data, '$.overrides'))
    WHERE kind = 'override';
CREATE INDEX gate_events_remeasures ON gate_events(gate, json_extract(data, '$.remeasure_of.id'), seq)
    WHERE json_extract(data, '$.remeasure_of.id') IS NOT NULL;
"""

# Office migration 17: the alerts' index made again on today's condition (log_gap events, and the
# face_mismatch code added after migration 12 was applied in older offices).
OFFICE_ALERTS_INDEX = f"""
DROP INDEX gate_events_alerts;
CREATE INDEX gate_events_alerts ON gate_events(ts_utc, gate, seq) WHERE {alert()};
"""

# Office migration 18: the passages a face check undid (the guard found someone else's pass), found
# by the checked event's id: who is inside leaves them out, one index probe per person.
def face_checked(prefix: str = "") -> str:
    return f"json_extract({prefix}data, '$.face_check_of')"


OFFICE_FACE_CHECK_INDEX = f"""
CREATE INDEX gate_events_face_checks ON gate_events({face_checked()}) WHERE kind = 'face_check';
"""
