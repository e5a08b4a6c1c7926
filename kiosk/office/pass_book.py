"""The office's book of passes: finding them by person, household or plate, and issuing the
missing ones in bulk (a second run issues nothing twice)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.plates import normalise_plate
from kiosk.office.service import IssuedPass, Office, OfficeError, issue_pass, subjects

# A pass with what the office knows of its subject: name, household and its address.
_PASSES = """
SELECT ps.*, coalesce(p.name, vi.name) AS name,
       coalesce(p.household_id, v.household_id, vi.household_id) AS household_id,
       h.building, h.unit, h.room
FROM passes ps
LEFT JOIN persons p ON ps.subject_kind = 'resident' AND p.id = ps.subject_id
LEFT JOIN vehicles v ON ps.subject_kind = 'vehicle' AND v.plate = ps.subject_id
LEFT JOIN visitors vi ON ps.subject_kind = 'visitor' AND vi.id = ps.subject_id
LEFT JOIN households h ON h.id = coalesce(p.household_id, v.household_id, vi.household_id)
"""


def find_passes(office: Office, *, person: str | None = None, household: str | None = None,
                plate: str | None = None, site_id: str | None = None) -> list[dict]:
    """Passes of a person, a household (its residents, vehicles and visitors) or a plate, newest first."""
    where, params = [], []
    if person:
        where.append("ps.subject_kind = 'resident' AND ps.subject_id = ?")
        params.append(person)
    if household:
        where.append("coalesce(p.household_id, v.household_id, vi.household_id) = ?")
        params.append(household)
    if plate:
        where.append("ps.subject_kind = 'vehicle' AND ps.subject_id = ?")
        params.append(normalise_plate(plate))
    if site_id:
        where.append("ps.site_id = ?")
        params.append(site_id)
    sql = _PASSES + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ps.valid_from DESC, ps.id"
    return list(office.db.query(sql, params))


def get_pass(office: Office, pass_id: str) -> dict:
    rows = list(office.db.query(_PASSES + " WHERE ps.id = ?", [pass_id]))
    if not rows:
        raise OfficeError("unknown_pass", f"no pass {pass_id}")
    return rows[0]


def face_reports(office: Office, pass_ids: list[str]) -> dict[str, list[dict]]:
    """The face-mismatch refusals gates reported for these passes (known after a pull), oldest
    first: each pass in the answer is marked for the office's attention (lent, stolen, copied?)."""
    if not pass_ids:
        return {}
    rows = office.store.query(  # the events are in the store (PostgreSQL at a district), not office.db
        f"SELECT pass_id, gate, ts_local FROM gate_events WHERE kind = 'face_check' "
        f"AND pass_id IN ({','.join('?' for _ in pass_ids)}) ORDER BY ts_utc, gate, seq", list(pass_ids))
    reports: dict[str, list[dict]] = {}
    for row in rows:
        time = row["ts_local"][:16].replace("T", " ")  # the gate's local time, as its guard saw it
        reports.setdefault(row["pass_id"], []).append({"gate": row["gate"], "time": time})
    return reports


def valid_pass(office: Office, subject_kind: str, subject_id: str, now: datetime) -> str | None:
    """The id of the subject's active, unexpired pass, if it holds one."""
    row = office.db.conn.execute(
        "SELECT id FROM passes WHERE subject_kind = ? AND subject_id = ? AND status = 'active' AND valid_until > ? "
        "ORDER BY valid_until DESC LIMIT 1", [subject_kind, subject_id, utc_text(now)]).fetchone()
    return row[0] if row else None


@dataclass
class IssueReport:
    issued: list[IssuedPass] = field(default_factory=list)
    held: list[tuple[str, str, str]] = field(default_factory=list)  # kind, subject, the pass it holds
    refused: list[tuple[str, str, KioskError]] = field(default_factory=list)  # kind, subject, why


def issue_missing(office: Office, site_id: str, wanted: list[tuple[str, str]], now: datetime,
                  days: float, on_issued=lambda issued: None) -> IssueReport:
    """Issue a pass to each subject that holds no valid one; a subject that cannot have one is
    reported and the others still get theirs. ``on_issued`` is called after each pass is stored."""
    report = IssueReport()
    for kind, subject in wanted:
        held = valid_pass(office, kind, subject, now)
        if held:
            report.held.append((kind, subject, held))
            continue
        try:
            issued = issue_pass(office, subject_kind=kind, subject_id=subject, site_id=site_id, now=now, days=days)
        except KioskError as exc:
            report.refused.append((kind, subject, exc))
            continue
        report.issued.append(issued)
        on_issued(issued)
    return report


def everyone(office: Office, site_id: str) -> list[tuple[str, str]]:
    """Every resident and vehicle of a site (after checking the office serves it)."""
    office.check_site(site_id)
    return subjects(office, site_id, ("resident", "vehicle"))
