"""Compounds by name, communities and the street (issue 16 levels, issue 12 names) on the scripted
day: 锦楠花园 (jinan) is 锦南社区, 龙海家园 (longhai) is 海棠社区, both under 小寨路街道."""

from __future__ import annotations

import io
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from kiosk.store.levels import Levels
from kiosk.store.settings import ConfigError
from tests.conftest import STORES
from tests.web.office_day import at
from tests.web.test_office_web import (
    HEALTH_SOURCE,
    REPORT_JINAN,
    REPORT_LONGHAI,
    logged_in,
    report_pairs,
    rows_of,
    text,
)
from web import create_app

ON_BOTH_STORES = pytest.mark.parametrize("office_day", STORES, indirect=True, scope="module")

DAY = "2026-11-29"
REPORT_STREET = [
    ("进入", "6人 1车"), ("外出", "5人 1车"), ("通行人数（去重）", "9"), ("日终在内", "6人 1车"), ("发热拦截", "2"),
    ("", "08:30 longhai-gate 孙丽 37.6℃"), ("", "09:00 jinan-gate 张丽 38.2℃ 复测36.8℃ 请人工核验 已人工放行"),
    ("返乡报备", "高风险1人；中风险0人；低风险0人"), ("居家隔离", "2：刘洋；郑强"), ("集中隔离", "1：陈静"),
    ("健康监测", "2：杨帆；王芳"), HEALTH_SOURCE, ("拒绝通行（按原因）", "体温异常 × 2；居家隔离人员，不得外出 × 2；通行证已注销 × 1"),
    ("人工放行", "2"), ("", "09:06 jinan-gate 张丽：复测正常"), ("", "10:31 longhai-gate 郑强：就医"),
    *REPORT_JINAN[-3:], *REPORT_LONGHAI[-3:]]


@pytest.fixture(scope="module")
def client(office_day):
    app = create_app({"KIOSK_HOME": str(office_day), "CLOCK": FixedClock(at(23, 59)), "TESTING": True})
    return logged_in(app)


@ON_BOTH_STORES
def test_the_report_per_compound_per_community_and_for_the_street(client):
    by_community = client.get(f"/report?date={DAY}&level=community").get_data(as_text=True)
    assert "<h2>社区：锦南社区 · 2026-11-29</h2>" in by_community and "<h2>社区：海棠社区 · 2026-11-29</h2>" in by_community
    assert report_pairs(by_community) == REPORT_JINAN + REPORT_LONGHAI
    one = client.get(f"/report.html?date={DAY}&level=community&community=haitang").get_data(as_text=True)
    assert "<h2>社区：海棠社区 · 2026-11-29</h2>" in one and report_pairs(one) == REPORT_LONGHAI
    street = client.get(f"/report?date={DAY}&level=district").get_data(as_text=True)
    assert "<h2>街道：小寨路街道 · 2026-11-29</h2>" in street
    assert report_pairs(street) == REPORT_STREET
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"/report.xlsx?date={DAY}&level=district").data)).active
    cells = [tuple(c if c is not None else "" for c in row) for row in sheet.iter_rows(values_only=True)]
    assert cells == [("社区防疫卡口日报 2026-11-29", ""), ("", ""), ("街道：小寨路街道 · 2026-11-29", ""), *REPORT_STREET]


@ON_BOTH_STORES
def test_the_overview_adds_up_at_the_level_asked(client):
    assert "锦楠花园 当前在内 4人 1车 进入 4人 1车 · 外出 2人 0车 发热拦截 1 · 人工放行 1" in text(client.get(f"/?date={DAY}"))
    community = text(client.get(f"/?date={DAY}&level=community"))
    assert "锦南社区 当前在内 4人 1车 进入 4人 1车 · 外出 2人 0车 发热拦截 1 · 人工放行 1" in community
    assert "海棠社区 当前在内 2人 0车 进入 2人 0车 · 外出 3人 1车 发热拦截 1 · 人工放行 1" in community
    street = text(client.get(f"/?date={DAY}&level=district"))
    assert "小寨路街道 当前在内 6人 1车 进入 6人 1车 · 外出 5人 1车 发热拦截 2 · 人工放行 2" in street
    assert "锦楠花园 当前在内" not in street


@ON_BOTH_STORES
def test_events_and_alerts_filter_by_community(client):
    haitang = client.get("/events?community=haitang").get_data(as_text=True)
    assert rows_of(haitang, "events") == rows_of(client.get("/events?site=longhai").get_data(as_text=True), "events")
    assert "共 13 条" in text(client.get("/events?community=haitang"))
    assert '<option value="haitang" selected>海棠社区</option>' in haitang
    assert '<option value="longhai" >龙海家园</option>' in haitang
    assert "共 0 条" in text(client.get("/events?community=nowhere"))
    alerts = rows_of(client.get("/alerts?community=jinnan&code=fever").get_data(as_text=True), "alerts")
    assert [row.split(" ")[2] for row in alerts] == ["jinan-gate"]


@ON_BOTH_STORES
def test_the_cli_report_at_each_level(office_day):
    def report(*args):
        result = CliRunner().invoke(cli, ["--home", str(office_day), "office", "report", "--date", DAY,
                                          "--format", "html", *args])
        assert result.exit_code == 0, result.output
        return report_pairs(result.output)

    assert report("--level", "district") == REPORT_STREET
    assert report("--level", "community", "--community", "jinnan") == REPORT_JINAN


@ON_BOTH_STORES
def test_names_are_escaped_everywhere_they_are_shown(office_day, tmp_path):
    home = shutil.copytree(office_day, tmp_path / "office")
    toml = home / "kiosk.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('jinan = "锦楠花园"', 'jinan = "锦楠<b>&花园"'),
                    encoding="utf-8")
    client = logged_in(create_app({"KIOSK_HOME": str(home), "CLOCK": FixedClock(at(23, 59)), "TESTING": True}))
    for url in (f"/?date={DAY}", "/events?site=jinan", "/inside", f"/report?date={DAY}", f"/report.html?date={DAY}"):
        html = client.get(url).get_data(as_text=True)
        assert "锦楠&lt;b&gt;&amp;花园" in html and "<b>&" not in html, url
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/events.xlsx?site=jinan").data)).active
    assert sheet["B2"].value == "锦楠<b>&花园"


@pytest.mark.parametrize("config, message", [
    ({"communities": [{"id": "c", "name": "C", "sites": ["beiyuan"]}]},
     "kiosk.toml：communities c 中的小区 beiyuan 不在 sites 中"),
    ({"communities": [{"id": "c", "name": "C", "sites": ["jinan"]}, {"id": "d", "name": "D", "sites": ["jinan"]}]},
     "kiosk.toml：小区 jinan 同时属于社区 c 和 d，只能属于一个"),
    ({"site_names": {"beiyuan": "北苑"}}, "kiosk.toml：site_names 中的小区 beiyuan 不在 sites 中"),
])
def test_levels_refuse_a_compound_the_office_does_not_serve(config, message):
    with pytest.raises(ConfigError) as refused:
        Levels.of({"site_id": "jinan", "sites": ["jinan", "longhai"], **config})
    assert refused.value.message("zh") == message


def test_a_compound_in_no_community_is_a_community_of_its_own():
    levels = Levels.of({"site_id": "jinan", "sites": ["jinan", "longhai"], "site_names": {"longhai": "龙海家园"},
                        "communities": [{"id": "c", "name": "锦南社区", "sites": ["jinan"]}]})
    assert [(c.id, c.name, c.sites) for c in levels.communities] == [
        ("c", "锦南社区", ("jinan",)), ("longhai", "龙海家园", ("longhai",))]
    assert (levels.site_name("jinan"), levels.district) == ("jinan", "")
