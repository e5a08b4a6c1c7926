"""A ledger file as a table: its header row found, its columns named, its rows numbered.

Community ledgers (台账) have title rows above the header (金岸小区居民台账, often a merged
cell), Chinese headers in several wordings, and come as XLSX or as CSV saved by Excel in
UTF-8 (with or without BOM) or, on Chinese Windows, GBK. Cells keep their Excel type (a date
stays a date) for the field readers in :mod:`kiosk.office.ledger_fields`.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.core.errors import KioskError

# Each field the import reads, with the headers offices give it (compared without spaces).
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "人员编号", "居民编号"),
    "identity": ("id_number", "身份证号", "身份证号码", "证件号码", "证件号", "公民身份号码"),
    "name": ("name", "姓名", "居民姓名"),
    "gender": ("gender", "性别"),
    "building": ("building", "楼栋", "楼号", "栋", "楼栋号", "幢"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "房号", "门牌号", "室", "房间号"),
    "address": ("address", "住址", "地址", "家庭住址", "现住址", "居住地址", "房屋地址", "详细地址"),
    "phone": ("phone", "联系电话", "手机", "电话", "手机号", "手机号码", "联系方式"),
    "household_no": ("household_no", "户号"),
    "relation": ("relation", "与户主关系", "关系"),
    "plate": ("plate", "车牌", "车牌号", "车牌号码"),
    "health": ("health", "健康状态", "健康状况", "管控状态", "人员状态"),
    "health_since": ("health_since", "隔离开始日期", "隔离开始", "开始日期"),
    "health_until": ("health_until", "截止日期", "隔离截止日期", "隔离截止", "解除日期", "隔离解除日期",
                     "隔离结束日期", "结束日期"),
    "cadre_name": ("cadre_name", "包联干部", "网格员", "负责人", "负责干部", "联系干部"),
    "cadre_phone": ("cadre_phone", "干部电话", "网格员电话", "负责人电话", "包联干部电话", "联系干部电话"),
    "note": ("note", "备注"),
}
REQUIRED = ("name", "building", "unit", "room")
HEADER_SEARCH_ROWS = 20  # title rows above the header: a few in practice


class LedgerError(KioskError):
    """The file cannot be read as a ledger (``no_header``, ``unreadable``)."""


@dataclass
class LedgerTable:
    header_line: int
    columns: dict[int, str]  # position -> field
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (column letter, header)
    rows: list[tuple[int, dict[str, object]]] = field(default_factory=list)  # (line, field -> cell)


def read_table(path: Path, columns: dict[str, tuple[str, ...]] = COLUMNS, key_field: str = "name") -> LedgerTable:
    """The table's header and rows; LedgerError when no row looks like a header.

    The header is the first row naming ``key_field`` and at least two more known columns.
    """
    lines = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_csv(path)
    for number, cells in enumerate(lines[:HEADER_SEARCH_ROWS], start=1):
        fields = [field_for(cell, columns) for cell in cells]
        if key_field in fields and sum(f is not None for f in fields) >= 3:
            return _table(number, cells, fields, lines[number:])
    if not any(any(_filled(c) for c in cells) for cells in lines):
        return LedgerTable(0, {})
    expected = ", ".join(headers[1] for headers in columns.values())
    raise LedgerError("no_header", f"no header row ({expected}) in the first {HEADER_SEARCH_ROWS} rows")


def field_for(header: object, columns: dict[str, tuple[str, ...]] = COLUMNS) -> str | None:
    wording = "".join(unicodedata.normalize("NFKC", str(header or "")).split()).strip("*:").lower()
    return next((name for name, headers in columns.items() if wording in headers), None)


def _table(header_line: int, cells: list[object], fields: list[str | None], body: list[list[object]]) -> LedgerTable:
    from openpyxl.utils import get_column_letter  # here: openpyxl takes longer to import than most commands run

    table = LedgerTable(header_line, {})
    for position, (cell, name) in enumerate(zip(cells, fields)):
        if name is None or name in table.columns.values():
            if _filled(cell):
                table.ignored.append((get_column_letter(position + 1), str(cell).strip()))
        else:
            table.columns[position] = name
    for number, row in enumerate(body, start=header_line + 1):
        if any(_filled(c) for c in row):
            table.rows.append((number, {name: row[position] for position, name in table.columns.items()
                                        if position < len(row)}))
    return table


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def _read_csv(path: Path) -> list[list[object]]:
    data = _read_bytes(path)
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # Excel on Chinese Windows saves CSV as GBK; GB18030 reads all of GBK
        try:
            content = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise LedgerError("unreadable", f"{path.name} is neither UTF-8 nor GBK/GB18030 text") from exc
    return list(csv.reader(io.StringIO(content)))


def _read_xlsx(path: Path) -> list[list[object]]:
    import openpyxl

    # openpyxl parses through defusedxml (a dependency): an entity bomb or external entity is a
    # ValueError here, in load_workbook or, read-only, while the rows are read.
    try:
        book = openpyxl.load_workbook(io.BytesIO(_read_bytes(path)), read_only=True, data_only=True)
        try:  # a read-only workbook keeps its file open until closed
            return [list(row) for row in book.active.iter_rows(values_only=True)]
        finally:
            book.close()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise LedgerError("unreadable", f"{path.name} is not an XLSX workbook: {exc}") from exc


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LedgerError("unreadable", f"cannot read {path}: {exc}") from exc
