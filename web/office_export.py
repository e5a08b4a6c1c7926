"""Events of every gate as CSV or XLSX for the office: Chinese labels and values.

Codes become their Chinese text, times real date-time cells (local, as the gate recorded
them); the sheet has a frozen header, an autofilter and column widths.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from functools import partial
from typing import Iterable

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from kiosk.core import i18n
from kiosk.core.cells import safe_cell

COLUMNS = (("time", 20), ("site", 10), ("gate", 14), ("lane", 8), ("direction", 6), ("kind", 10),
           ("outcome", 12), ("reasons", 36), ("name", 10), ("subject", 14), ("household", 12), ("plate", 12),
           ("temperature", 8), ("guard", 10), ("shift", 16))


def household_text(row: dict, language: str) -> str:
    if row.get("building") is None:
        return row.get("household_id") or ""
    return i18n.t("office_web.household", language, building=row["building"], unit=row["unit"], room=row["room"])


def local_time(row: dict) -> datetime:
    """The event's local wall-clock time as a naive datetime (a spreadsheet has no zones)."""
    return datetime.fromisoformat(row["ts_local"]).replace(tzinfo=None, microsecond=0)


def values(row: dict, language: str) -> list:
    t = partial(i18n.t, language=language)
    codes = json.loads(row["codes"])
    return [local_time(row), row.get("site_name") or row["site_id"], row["gate"], row["lane"] or "",
            t(f"web.direction.{row['direction']}") if row["direction"] else "", t(f"web.kind.{row['kind']}"),
            t(f"outcome.{row['outcome']}") if row["outcome"] else "",
            t("sep.list").join(t(f"code.{code}") for code in codes),
            row.get("person_name") or json.loads(row["data"]).get("name", ""), row["subject_id"] or "",
            household_text(row, language), row["plate"] or "",
            row["temperature"] if row["temperature"] is not None else "", row["guard_id"] or "",
            _shift_text(row["shift_id"], t)]


def _shift_text(shift_id: str | None, t) -> str:
    if not shift_id:
        return ""
    day, key = shift_id.split("/", 1)
    return f"{day} {t('web.shift.' + key)}"


def header(language: str) -> list[str]:
    return [i18n.t(f"office_web.column.{name}", language) for name, _ in COLUMNS]


def to_csv(rows: Iterable[dict], language: str) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(language))
    for row in rows:
        cells = values(row, language)
        writer.writerow([cells[0].strftime("%Y-%m-%d %H:%M:%S"), *map(safe_cell, cells[1:])])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Iterable[dict], language: str, title: str = "events") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(header(language))
    count = 0
    for row in rows:
        cells = values(row, language)
        sheet.append([cells[0], *map(safe_cell, cells[1:])])
        sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd hh:mm:ss"
        count += 1
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
