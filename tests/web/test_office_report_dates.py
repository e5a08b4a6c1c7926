"""The daily report's health lists are as of the report's day (issue 12): the office's records
of each measure's start and end (health_periods), not the registry as it is now."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.core.shifts import shift_defs
from kiosk.office import residents
from kiosk.office.ledger import day_start
from kiosk.office.service import Office
from kiosk.store.levels import Levels
from tests.conftest import STORES
from web import daily_report

pytestmark = pytest.mark.parametrize("office_day", STORES, indirect=True, scope="module")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def health_on(office: Office, day: date) -> dict[str, dict[str, list[str]]]:
    report = daily_report.daily_report(office.store, day, Levels.of(office.config), shift_defs(office.config["shifts"]),
                                       "Asia/Shanghai")
    return {c["site"]: c["health"] for c in report["compounds"]}


def test_health_lists_are_those_in_force_on_the_reports_day(office_day):
    with Office.open(office_day) as office:
        later = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
        residents.set_health(office.db, "R003", "normal", later)  # 刘洋's home isolation ends on the 30th
        residents.set_health(office.db, "L002", "health_monitoring", later)  # 孙丽 monitored from the 30th
        residents.set_health(office.db, "R004", "central_quarantine", later,  # 陈静's quarantine: to the 30th
                             until=day_start(date(2026, 12, 1), SHANGHAI))
    with Office.open(office_day) as office:  # as the next page or report opens it (PostgreSQL: the changes copied)
        day_29, day_30 = health_on(office, date(2026, 11, 29)), health_on(office, date(2026, 11, 30))
        day_27, day_1 = health_on(office, date(2026, 11, 27)), health_on(office, date(2026, 12, 1))
    assert day_29 == {"jinan": {"home_isolation": ["刘洋"], "central_quarantine": ["陈静"],
                                "health_monitoring": ["杨帆"]},
                      "longhai": {"home_isolation": ["郑强"], "central_quarantine": [],
                                  "health_monitoring": ["王芳"]}}
    # on the 30th both of 刘洋's statuses held for part of the day: isolated until 09:00, then not
    assert day_30 == {"jinan": {"home_isolation": ["刘洋"], "central_quarantine": ["陈静"],
                                "health_monitoring": ["杨帆"]},
                      "longhai": {"home_isolation": ["郑强"], "central_quarantine": [],
                                  "health_monitoring": ["孙丽", "王芳"]}}
    assert day_1 == {"jinan": {"home_isolation": [], "central_quarantine": [], "health_monitoring": ["杨帆"]},
                     "longhai": {"home_isolation": ["郑强"], "central_quarantine": [],
                                 "health_monitoring": ["孙丽", "王芳"]}}
    # the ledger was imported on the 28th: before that the office knew of no measure
    assert day_27 == {site: {"home_isolation": [], "central_quarantine": [], "health_monitoring": []}
                      for site in ("jinan", "longhai")}
