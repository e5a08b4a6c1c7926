"""The office's own page in Chromium at 1366x768: `kiosk serve` on the office folder, real HTTP.

The scripted two-gate day (tests/web/office_day.py) is served from each office store (SQLite,
PostgreSQL); one browser per store.
Screenshots go to test-artifacts/ (docs/screenshots/office-main.png and office-daily-report.png,
shown in the README, are copies of them).
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import datetime

import openpyxl
import pytest

from tests.conftest import STORES
from tests.servers import KioskServer
from tests.web.office_day import OFFICE_USER, PASSWORD
from tests.web.test_browser import ARTIFACTS, PATIENCE_MS
from web.screen_preview import launch_chromium

# Each store in turn (module scope: one server and browser per store); `kiosk serve` on the
# PostgreSQL office runs in its own process like the SQLite one.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("office_day", STORES, indirect=True, scope="module")]
playwright_api = pytest.importorskip("playwright.sync_api")

VIEWPORT = {"width": 1366, "height": 768}
DAY = "2026-11-29"


@pytest.fixture(scope="module")
def server(office_day, tmp_path_factory):
    running = KioskServer(office_day, tmp_path_factory.mktemp("office-serve") / "serve.log").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(server):
    with launch_chromium() as chromium:
        context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(PATIENCE_MS)
        yield context.new_page()


def workbook(download):
    """The downloaded workbook (the download's file has no extension, which openpyxl refuses by name)."""
    return openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))


def visible(page, selector: str = "main") -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector))


def test_login_and_the_main_page(page, server):
    page.goto(server.url + "/")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("input[name=name]", OFFICE_USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(server.url + "/")
    page.goto(f"{server.url}/?date={DAY}")
    text = visible(page)
    assert "锦楠花园 当前在内 4人 1车 进入 4人 1车 · 外出 2人 0车 发热拦截 1 · 人工放行 1" in text
    assert "龙海家园 当前在内 2人 0车 进入 2人 0车 · 外出 3人 1车 发热拦截 1 · 人工放行 1" in text
    assert "未确认警报 9 条" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "office-main.png"))


def test_each_page_from_the_menu(page, server):
    headings = {"events": "出入记录", "shifts": "2026-", "alerts": "警报", "inside": "在内人员", "trace": "流调查询",
                "report": "社区防疫卡口日报"}
    for endpoint, heading in headings.items():
        page.goto(server.url + "/")
        page.click(f"#nav-{endpoint}")
        page.wait_for_url(re.compile(f"/{endpoint}"))
        assert heading in page.inner_text("h1")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], endpoint
    page.goto(server.url + "/inside")
    assert "锦楠花园: 4人 1车" in visible(page) and "龙海家园: 2人 0车" in visible(page)


def test_filters_and_the_xlsx_export(page, server):
    page.goto(server.url + "/events")
    page.select_option("select[name=code]", label="体温异常")
    page.select_option("select[name=site]", "longhai")
    page.click("#filter")
    page.wait_for_url(re.compile("code=fever"))
    assert "共 1 条" in visible(page)
    assert visible(page, "table.events tbody") .strip().startswith("2026-11-29 08:30:00 龙海家园 longhai-gate")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    sheet = workbook(download).active
    assert [c.value for c in sheet[2]] == [datetime(2026, 11, 29, 8, 30), "龙海家园", "longhai-gate", "in", "进", "扫码",
                                           "禁止通行", "体温异常", "孙丽", "L002", "1栋1单元102室", None, 37.6, "G101",
                                           "2026-11-29 早班"]
    assert sheet.max_row == 2 and sheet.freeze_panes == "A2"


def test_contact_tracing_export(page, server):
    page.goto(server.url + "/trace")
    page.fill("input[name=person]", "郑强")
    page.fill("input[name=start]", "2026-11-29T00:00")
    page.fill("input[name=end]", "2026-11-30T00:00")
    page.click("#filter")
    page.wait_for_url(re.compile("person="))
    assert "共 2 条" in visible(page)
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == "trace.xlsx"
    rows = list(workbook(download).active.iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[5], row[6], row[8]) for row in rows] == [
        (datetime(2026, 11, 29, 10, 31), "人工放行", "通行", "郑强"),
        (datetime(2026, 11, 29, 10, 30), "扫码", "禁止通行", "郑强")]


def test_acknowledging_an_alert(page, server):
    page.goto(server.url + "/alerts?code=revoked")
    page.fill("table.alerts input[name=note]", "通行证已收回")
    page.click("table.alerts button[type=submit]")
    page.wait_for_url(re.compile("code=revoked"))
    assert "已由 office 确认 通行证已收回" in visible(page, "table.alerts")


def test_daily_report_printed_and_as_pdf(page, server, tmp_path):
    page.goto(f"{server.url}/report?date={DAY}")
    with page.expect_download() as download:
        page.click("#report-pdf")
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    text = re.sub(r"[ \t]+", " ", subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                                 text=True, check=True).stdout)
    for line in ("社区防疫卡口日报 2026-11-29", "小区：龙海家园 · 2026-11-29", "居家隔离 1：郑强",
                 "jinan-gate 早班 王建国(G001) 08:00–11:30；王建国(G001) 12:15–15:58"):
        assert line in text
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page.png").stat().st_size > 5000
    with page.expect_download() as download:
        page.click("#report-xlsx")
    cells = {row[0]: row[1] for row in workbook(download).active.iter_rows(
        min_row=4, max_row=7, values_only=True)}
    assert cells == {"进入": "4人 1车", "外出": "2人 0车", "通行人数（去重）": "5", "日终在内": "4人 1车"}
    page.goto(f"{server.url}/report.html?date={DAY}")
    page.emulate_media(media="print")
    assert "小区：锦楠花园 · 2026-11-29" in page.inner_text("h2") and "龙海家园" in visible(page, "body")
    page.screenshot(path=str(ARTIFACTS / "office-daily-report.png"), full_page=True)
    page.emulate_media(media="screen")


def test_english_on_request(page, server):
    page.goto(f"{server.url}/inside?lang=en")
    assert "锦楠花园: 4 persons 1 vehicles" in visible(page)
    page.goto(f"{server.url}/inside?lang=zh")
