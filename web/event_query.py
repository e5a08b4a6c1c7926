"""The office's view of the event log: filters, paging, CSV and XLSX export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from typing import Iterable, Mapping

import sqlite_utils
from openpyxl import Workbook

from kiosk.core.cells import safe_cell
from kiosk.core.i18n import t

PAGE_SIZE = 50
EXPORT_COLUMNS = ("seq", "ts_local", "shift_id", "lane", "direction", "kind", "outcome", "codes",
                  "pass_id", "subject_kind", "subject_id", "household_id", "plate", "temperature",
                  "guard_id", "clock_synced")


@dataclass(frozen=True)
class EventFilter:
    """What the office asked for; every field optional, empty means any."""

    date: str = ""  # local YYYY-MM-DD
    shift: str = ""  # shift key: morning / afternoon / night
    lane: str = ""
    direction: str = ""
    outcome: str = ""
    code: str = ""
    guard: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "EventFilter":
        return cls(**{f.name: (args.get(f.name) or "").strip() for f in fields(cls)})

    def where(self) -> tuple[str, list]:
        clauses, params = ["1 = 1"], []
        if self.date:
            clauses.append("substr(ts_local, 1, 10) = ?")
            params.append(self.date)
        if self.shift:
            clauses.append("substr(shift_id, 12) = ?")  # shift ids are YYYY-MM-DD/<key>: no LIKE wildcards
            params.append(self.shift)
        for column in ("lane", "direction", "outcome"):
            if getattr(self, column):
                clauses.append(f"{column} = ?")
                params.append(getattr(self, column))
        if self.guard:
            clauses.append("guard_id = ?")
            params.append(self.guard)
        if self.code:
            clauses.append("EXISTS (SELECT 1 FROM json_each(events.codes) WHERE value = ?)")
            params.append(self.code)
        return " AND ".join(clauses), params

    def query_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def count_events(db: sqlite_utils.Database, flt: EventFilter) -> int:
    where, params = flt.where()
    return db.conn.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0]


def find_events(db: sqlite_utils.Database, flt: EventFilter, page: int | None = None) -> list[dict]:
    """The filtered events, newest first; one page of PAGE_SIZE when ``page`` is given."""
    where, params = flt.where()
    sql = f"SELECT * FROM events WHERE {where} ORDER BY seq DESC"
    if page is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE]
    return list(db.query(sql, params))


def export_rows(rows: Iterable[dict]) -> Iterable[list]:
    for row in rows:
        values = dict(row, codes=",".join(json.loads(row["codes"])))
        yield [safe_cell(values[column]) for column in EXPORT_COLUMNS]


def header(language: str) -> list[str]:
    return [t(f"web.column.{column}", language) for column in EXPORT_COLUMNS]


def to_csv(rows: Iterable[dict], language: str) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(language))
    writer.writerows(export_rows(rows))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Iterable[dict], language: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "events"
    sheet.append(header(language))
    for values in export_rows(rows):
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
