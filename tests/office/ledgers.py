"""Ledgers as community offices keep them, written as real CSV (any encoding) and XLSX files."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from kiosk.office.service import Office, init_keys
from kiosk.store.config import create_home

TITLE = "金岸小区居民台账"
HEADER_16 = ["序号", "户号", "姓名", "性别", "身份证号", "联系电话", "楼栋", "单元", "房号", "与户主关系", "车牌号",
             "健康状态", "隔离截止日期", "包联干部", "干部电话", "备注"]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def identity_number(n: int, region: str = "610102") -> str:
    """A well-formed 18-character identity number (right check digit), different for each n."""
    body = f"{region}{1950 + n % 60:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS)) % 11]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # as Excel saves it
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list], merge_title: bool = False) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if merge_title:  # the title cell spans the table, as offices print it
        book.active.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[1]))
    book.save(path)
    return path


@pytest.fixture
def fresh_office(tmp_path):
    """An office with no residents yet."""
    config = create_home(tmp_path / "office", {"role": "office", "site_id": "jinan"})
    with Office(config) as office:
        init_keys(office)
        yield office


def jinan_ledger(count: int = 564) -> list[list]:
    """The 16-column ledger of the issue: a title row, then ``count`` residents, three a flat.

    Each flat's building, unit and room are written three ways (3号楼 / ３ / 3栋, ...), plates
    with dots, spaces and full-width letters, deadlines in the forms people type.
    """
    rows: list[list] = [[TITLE] + [None] * 15, HEADER_16]
    deadlines = ["2026-12-10", "2026/12/11", "2026.12.15", "12月10日", datetime(2026, 12, 12)]
    for n in range(count):
        flat, member = divmod(n, 3)
        building, unit, room = 1 + flat % 12, 1 + flat // 12 % 3, 101 + flat // 36 * 100 + flat % 4
        address = [(f"{building}号楼", f"{unit}单元", f"{room}室"),
                   (_wide(building), _wide(unit), _wide(room)),
                   (f"{building}栋", f" {unit} ", f"{room}号")][member]
        status, until, cadre = _health(n, deadlines)
        plate = _plate(flat) if member == 0 and flat % 4 == 0 else ""
        rows.append([n + 1, f"H{flat:03d}", _name(n), "男女"[n % 2], identity_number(n),
                     "" if n % 10 == 0 else f"137{n:08d}", *address, ("户主", "配偶", "子女")[member], plate,
                     status, until, cadre, "13900000000" if cadre else "", "租户" if n % 7 == 0 else ""])
    return rows


def _wide(number: int) -> str:
    """Full-width digits, as an input method types them."""
    return "".join(chr(ord(d) + 0xFEE0) for d in str(number))


def _name(n: int) -> str:
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
    name = "王李张刘陈杨赵黄周吴"[n % 10] + given[n % 21] + given[(n // 21) % 21]
    return name[0] + "\u3000" + name[1:] if n % 9 == 0 else name  # an ideographic space typed in


def _plate(flat: int) -> str:
    letters = f"B{6500 + flat}"
    return (f"陕H·{letters}", f"陕Ｈ{letters.translate(str.maketrans('B0123456789', 'Ｂ０１２３４５６７８９'))}",
            f"陕h {letters.lower()}")[flat % 3]


def _health(n: int, deadlines: list) -> tuple[str, object, str]:
    if n % 20 == 1:
        return "居家隔离", deadlines[n // 20 % 5], "王主任"
    if n % 20 == 2:
        return "居家健康监测", deadlines[n // 20 % 5], "网格员小李"
    if n % 50 == 3:
        return "集中医学观察", "", "王主任"
    return ("正常", "", "") if n % 2 else ("", "", "")
