"""The office's shift rows: per gate and shift, with daily totals, as CSV (``kiosk office report --format csv``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from kiosk.core.cells import safe_cell
from kiosk.core.shifts import shift_defs, shifts_of_day, summarise
from kiosk.office.pull import chosen_gates
from kiosk.office.service import Office

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
        gate_rows = [_report_row(day, name, ref, summarise(list(office.store.query(
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
            "events": log["events"], "guards": " ".join(dict.fromkeys(g["guard_id"] for g in log["guards"])),  # once per guard
            "handover_notes": " | ".join(f"{n['guard_id']}: {n['note']}" for n in log["handover_notes"])}


def _total(day: date, gate: str, rows: list[dict]) -> dict:
    total: dict[str, Any] = {"date": day.isoformat(), "gate": gate, "shift": "total", "shift_zh": "合计",
                             "guards": "", "handover_notes": ""}
    total.update({field: sum(row[field] for row in rows) for field in TOTAL_FIELDS})
    return total


def write_report(rows: list[dict], out) -> None:
    """Write report rows as CSV to the text stream ``out`` (the daily report proper: web.daily_report)."""
    import csv

    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    writer.writerows([safe_cell(row[c]) for c in REPORT_COLUMNS] for row in rows)
