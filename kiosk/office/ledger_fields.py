"""One ledger cell at a time: text as people type it, made comparable.

Every cell is NFKC-normalised (full-width ＡＢ１２ and the ideographic space become ASCII),
trimmed, and runs of spaces collapsed; a space between two Chinese characters is dropped
(张　三 is 张三). Addresses lose their suffixes (1号楼 -> 1, 3单元 -> 3, 301室 -> 301).
Dates are read in the forms people type and as Excel stores them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

from kiosk.core.errors import KioskError
from kiosk.core.plates import normalise_plate

_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")
_BUILDING_SUFFIX = re.compile(r"(号楼|号|栋|幢|楼|座)$")
_UNIT_SUFFIX = re.compile(r"(单元|门)$")
_ROOM_SUFFIX = re.compile(r"(室|号|户)$")
_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_MD = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_TIME = re.compile(r"\s+\d{1,2}:\d{2}(:\d{2})?$")  # a date cell written with its midnight
_EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (its 1900 leap-year bug included)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PHONE = re.compile(r"\+?[0-9][0-9-]{4,19}")

# The health wordings offices use, to the four statuses the rules know.
HEALTH_WORDINGS = {
    "normal": ("normal", "正常", "健康", "无", "无异常", "绿码", "绿"),
    "health_monitoring": ("health_monitoring", "健康监测", "居家健康监测", "日常健康监测", "健康观察",
                          "自我健康监测", "黄码", "黄"),
    "home_isolation": ("home_isolation", "居家隔离", "居家观察", "居家医学观察", "居家隔离观察"),
    "central_quarantine": ("central_quarantine", "集中隔离", "集中医学观察", "集中隔离观察", "集中观察",
                           "红码", "红"),
}


class CellError(KioskError):
    """A cell cannot be read; ``code`` names the catalogue text ``ledger.bad_<code>``."""

    def __init__(self, code: str, value: str) -> None:
        super().__init__(code, f"{code}: {value!r}")
        self.value = value


def text(value: object) -> str:
    """NFKC, trimmed, spaces collapsed, no space between Chinese characters."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a number cell: 901.0 is room 901
        value = int(value)
    cleaned = _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()
    return _CJK_GAP.sub("", cleaned)


# One cell for the whole address, as many ledgers keep it: 3号楼2单元501室, 锦楠花园3栋2单元501,
# 3-2-501. The parts are read from the end (a compound's name may come first), in digits and
# letters; NFKC has already made full-width ones half-width.
_PART = r"([0-9A-Z]+)"
_ADDRESS_FORMS = (
    re.compile(rf"{_PART}(?:号楼|栋|幢|号|楼|座)-?{_PART}(?:单元|门)-?{_PART}(?:室|号|户)?$"),
    re.compile(rf"{_PART}[-—–]{_PART}[-—–]{_PART}(?:室|号|户)?$"),
)


def address(value: str) -> tuple[str, str, str]:
    """(building, unit, room) of a one-cell address; CellError ``address`` when it names no unit
    or is written in Chinese numerals (三号楼): a household must not be guessed."""
    compact = value.replace(" ", "").upper()
    for form in _ADDRESS_FORMS:
        found = form.search(compact)
        if found:
            return found.group(1), found.group(2), found.group(3)
    raise CellError("address", value)


def building(value: str) -> str:
    return _BUILDING_SUFFIX.sub("", value).strip() or value


def unit(value: str) -> str:
    return _UNIT_SUFFIX.sub("", value).strip() or value


def room(value: str) -> str:
    return _ROOM_SUFFIX.sub("", value).strip() or value


def person_id(value: str) -> str:
    """A row id as given; only letters, digits, - and _ (ids name files and go into tokens.tsv)."""
    if not _SAFE_ID.fullmatch(value):
        raise CellError("id", value)
    return value


def phone(value: str) -> str | None:
    compact = value.replace(" ", "")
    if not compact:
        return None
    if not _PHONE.fullmatch(compact):
        raise CellError("phone", value)
    return compact


def health(value: str) -> str:
    wording = value.lower()
    if not wording:
        return "normal"
    for status, wordings in HEALTH_WORDINGS.items():
        if wording in wordings:
            return status
    raise CellError("health", value)


def day(value: object, today: date) -> date | None:
    """2026-12-10, 2026/12/10, 2026.12.15, 2026年12月10日, 12月10日, an Excel date or day number.

    A date without a year is the one nearest ``today`` (12月10日 typed in January is last December).
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _excel_day(float(value), str(value))
    typed = text(value)
    if not typed:
        return None
    if re.fullmatch(r"\d{5}(\.\d+)?", typed):  # an Excel day number saved into a CSV
        return _excel_day(float(typed), typed)
    try:
        if match := _YMD.fullmatch(_TIME.sub("", typed)):
            return date(*(int(g) for g in match.groups()))
        if match := _MD.fullmatch(typed):
            month, day_ = int(match[1]), int(match[2])
            candidates = [date(today.year + shift, month, day_) for shift in (-1, 0, 1)]
            return min(candidates, key=lambda d: abs(d - today))
    except ValueError:
        pass
    raise CellError("date", typed)


def _excel_day(number: float, typed: str) -> date:
    if not 20000 <= number <= 80000:  # 1954..2119: anything else is no date
        raise CellError("date", typed)
    return _EXCEL_EPOCH + timedelta(days=int(number))


def plates(value: str) -> list[str]:
    """The plates in a cell, several separated by 、，,;；/."""
    found = [normalise_plate(p) for p in re.split(r"[、,;/]", value) if p.strip()]
    for plate in found:
        if not re.fullmatch(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fff]?", plate):
            raise CellError("plate", value)
    return found
