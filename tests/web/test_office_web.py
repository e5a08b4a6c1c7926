"""The office's own page over every gate (issue 12), on the scripted two-gate day, in-process.

Exact figures on every page and in every export and report format; the browser half is
test_office_browser.py, real HTTP for the pull is in office_day.pull_over_http.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import datetime

import openpyxl
import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.clock import FixedClock
from kiosk.office.service import Office
from tests.conftest import STORES
from tests.web.conftest import TOKEN
from tests.web.office_day import OFFICE_USER, PASSWORD, VIEWER_USER, at
from web import create_app
from web.office_query import EVENT_ROWS, OfficeFilter

DAY = "2026-11-29"
# Every figure on both stores: the office's SQLite file and a district's PostgreSQL.
pytestmark = pytest.mark.parametrize("office_day", STORES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def app(office_day):
    return create_app({"KIOSK_HOME": str(office_day), "CLOCK": FixedClock(at(23, 59)), "TESTING": True})


def logged_in(app, user=OFFICE_USER):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": user, "password": PASSWORD, "csrf_token": token})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    return client


@pytest.fixture(scope="module")
def client(app):
    return logged_in(app)


def text(response) -> str:
    """The page's visible text, whitespace collapsed."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def rows_of(html: str, table_class: str) -> list[str]:
    table = re.search(rf'<table class="{table_class}".*?</table>', html, re.S).group(0)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr[ >].*?</tr>", table.split("<tbody>")[1], re.S)]


def cells_of(html: str, table_class: str) -> list[list[str]]:
    table = re.search(rf'<table class="{table_class}".*?</table>', html, re.S).group(0).split("<tbody>")[1]
    return [[text_of(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[ >].*?</tr>", table, re.S)]


def test_an_office_folder_serves_the_office_page_and_refuses_strangers(app):
    stranger = app.test_client()
    assert stranger.get("/").headers["Location"] == "/login?next=/"
    assert stranger.get("/events.xlsx").status_code == 302
    assert stranger.get("/api/v1/health").get_json() == {"ok": True, "role": "office"}
    assert stranger.get("/screen/").status_code == 404  # no gate pages on an office folder
    token = TOKEN.search(stranger.get("/login").get_data(as_text=True)).group(1)
    wrong = stranger.post("/login", data={"name": OFFICE_USER, "password": "wrong-password", "csrf_token": token})
    assert wrong.status_code == 401 and "密码错误" in wrong.get_data(as_text=True)


def test_main_page_shows_each_compound_and_the_gates(client):
    page = text(client.get(f"/?date={DAY}"))
    assert "锦楠花园 当前在内 4人 1车 进入 4人 1车 · 外出 2人 0车 发热拦截 1 · 人工放行 1" in page
    assert "龙海家园 当前在内 2人 0车 进入 2人 0车 · 外出 3人 1车 发热拦截 1 · 人工放行 1" in page
    assert "未确认警报 9 条" in page
    assert "jinan-gate 锦楠花园 2026-11-29 23:59" in page and "longhai-gate 龙海家园 2026-11-29 23:59" in page


def test_events_of_every_gate_filtered_and_keyset_paged(client, monkeypatch):
    assert "共 32 条" in text(client.get("/events"))
    fevers = client.get("/events?code=fever")
    assert rows_of(fevers.get_data(as_text=True), "events") == [
        "2026-11-29 09:00:00 锦楠花园 jinan-gate in 进 扫码 禁止通行 体温异常 张丽 R002 1栋1单元101室 38.2 G001",
        "2026-11-29 08:30:00 龙海家园 longhai-gate in 进 扫码 禁止通行 体温异常 孙丽 L002 1栋1单元102室 37.6 G101"]
    window = client.get("/events?site=jinan&start=2026-11-29T08:00&end=2026-11-29T12:00&outcome=allow").get_data(
        as_text=True)
    assert [row.split(" ")[1] for row in rows_of(window, "events")] == ["11:00:00", "09:06:00", "08:10:00"]
    assert len(rows_of(client.get("/events?person=张晓明").get_data(as_text=True), "events")) == 2
    assert len(rows_of(client.get("/events?plate=陕a11111").get_data(as_text=True), "events")) == 1
    assert len(rows_of(client.get("/events?household=longhai:2-1-201&shift=morning").get_data(as_text=True),
                       "events")) == 2
    assert len(rows_of(client.get("/events?gate=longhai-gate&lane=out").get_data(as_text=True), "events")) == 4
    monkeypatch.setattr("web.office_web.PAGE_SIZE", 10)  # pages of 10: 10, 10, 10, 2
    seen, url = [], "/events"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += rows_of(html, "events")
        found = re.search(r'<a href="([^"]+)" id="next-page"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 32 and len(set(seen)) == 32
    assert seen[0].startswith("2026-11-29 23:50:00 锦楠花园") and seen[-1].startswith("2026-11-29 00:05:00 锦楠花园")


def test_event_pages_follow_the_time_index_without_sorting(office_day):
    """Keyset paging stays fast at a million rows: SQLite walks the compound's time index, sorts nothing."""
    with Office.open(office_day) as office:
        if office.store is not office.db:
            pytest.skip("SQLite's query plan")
        where, params = OfficeFilter(site="jinan").where()
        plan = " / ".join(row[3] for row in office.db.execute(
            f"EXPLAIN QUERY PLAN {EVENT_ROWS} WHERE {where} AND (e.ts_utc, e.gate, e.seq) < (?, ?, ?) "
            "ORDER BY e.ts_utc DESC, e.gate DESC, e.seq DESC LIMIT 51", [*params, "2026-11-29T12:00", "x", 1]))
    assert "USING INDEX gate_events_site (site_id=? AND (ts_utc,gate,seq)<(?,?,?))" in plan and "TEMP B-TREE" not in plan


def test_web_users_of_an_office_folder_are_office_or_viewer(office_day):
    runner = CliRunner()
    added = runner.invoke(cli, ["--lang", "en", "--home", str(office_day), "web-user", "add", "流调组", "--role",
                                "viewer", "--password", "tracing-2026"])
    assert added.exit_code == 0, added.output
    refused = runner.invoke(cli, ["--lang", "en", "--home", str(office_day), "web-user", "add", "主管", "--role",
                                  "supervisor", "--password", "tracing-2026"])
    assert refused.exit_code != 0
    with Office.open(office_day) as office:
        assert [tuple(r) for r in office.store.execute("SELECT name, role FROM web_users ORDER BY name")] == [
            ("office", "office"), ("viewer", "viewer"), ("流调组", "viewer")]


def test_event_exports_have_chinese_labels_values_and_date_time_cells(client):
    response = client.get("/events.xlsx?code=fever")
    assert response.headers["Content-Disposition"] == "attachment; filename=events.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[1]] == ["时间", "小区", "门岗", "通道", "方向", "类型", "结果", "原因", "姓名", "编号",
                                           "住户", "车牌", "体温", "值班员", "班次"]
    assert [c.value for c in sheet[2]] == [datetime(2026, 11, 29, 9, 0), "锦楠花园", "jinan-gate", "in", "进", "扫码",
                                           "禁止通行", "体温异常", "张丽", "R002", "1栋1单元101室", None, 38.2, "G001",
                                           "2026-11-29 早班"]
    assert sheet["A2"].is_date and sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:O3"
    assert sheet.column_dimensions["H"].width == 36 and sheet.max_row == 3
    body = client.get("/events.csv?person=L003").data.decode("utf-8")
    assert body.startswith("\ufeff时间,小区,门岗")
    assert list(csv.reader(io.StringIO(body[1:])))[1:] == [
        ["2026-11-29 10:31:00", "龙海家园", "longhai-gate", "out", "出", "人工放行", "通行", "", "郑强", "L003",
         "2栋1单元201室", "", "", "G101", "2026-11-29 早班"],
        ["2026-11-29 10:30:00", "龙海家园", "longhai-gate", "out", "出", "扫码", "禁止通行", "居家隔离人员，不得外出", "郑强",
         "L003", "2栋1单元201室", "", "", "G101", "2026-11-29 早班"]]


def test_shift_logs_across_gates_with_names_and_exact_duty_times(client):
    rows = rows_of(client.get(f"/shifts?date={DAY}").get_data(as_text=True), "shifts")
    assert rows == [
        "jinan-gate 夜班 00:00–08:00 赵卫东(G002) 00:05–07:55 0 人，0 车 1 人，0 车 0 0 0 0 G002: 夜班无异常",
        "jinan-gate 早班 08:00–16:00 王建国(G001) 08:00–11:30；王建国(G001) 12:15–15:58 2 人，1 车 1 人，0 车 "
        "体温异常 × 1；居家隔离人员，不得外出 × 1 1 1 1 G001: 午饭 G001: 2号楼外卖已登记",
        "jinan-gate 中班 16:00–00:00 李秀英(S001) 16:00–23:50 2 人，0 车 0 人，0 车 通行证已注销 × 1 0 0 0",
        # 孙振华 signed on at 07:50 and off at 16:10: on all three shifts, each with its own times
        "longhai-gate 夜班 00:00–08:00 周海(G102) 07:00–07:59；孙振华(G101) 07:50–08:00 0 人，0 车 1 人，0 车 0 0 0 0 "
        "G102: 交接正常",
        "longhai-gate 早班 08:00–16:00 孙振华(G101) 08:00–16:00 1 人，0 车 2 人，1 车 "
        "体温异常 × 1；居家隔离人员，不得外出 × 1 1 1 0",
        "longhai-gate 中班 16:00–00:00 孙振华(G101) 16:00–16:10；马红梅(S101) 16:00–23:00 1 人，0 车 0 人，0 车 0 0 0 0 "
        "G101: 无"]


def test_alerts_across_gates_with_names_cadre_and_what_followed(client):
    rows = rows_of(client.get("/alerts?site=longhai").get_data(as_text=True), "alerts")
    assert rows == [
        "2026-11-29 10:31 longhai-gate 人工放行: 就医 郑强 2栋1单元201室 冯干部 13900000000 确认",
        "2026-11-29 10:30 longhai-gate 居家隔离人员，不得外出 郑强 2栋1单元201室 冯干部 13900000000 10:31 人工放行：就医 确认",
        "2026-11-29 08:30 longhai-gate 体温异常 37.6℃ 孙丽 1栋1单元102室 确认"]
    fever = rows_of(client.get("/alerts?code=fever&gate=jinan-gate").get_data(as_text=True), "alerts")
    assert fever == ["2026-11-29 09:00 jinan-gate 体温异常 38.2℃ 张丽 1栋1单元101室 复测36.8℃ 请人工核验 "
                     "09:06 人工放行：复测正常 确认"]


def test_acknowledging_an_alert_with_a_note_and_viewers_only_read(app, client, office_day):
    with Office.open(office_day) as office:
        event_id = office.store.execute("SELECT id FROM gate_events WHERE gate = 'longhai-gate' AND seq = 5").fetchone()[0]
    viewer = logged_in(app, VIEWER_USER)
    page = viewer.get("/alerts").get_data(as_text=True)
    assert "/ack" not in page
    token = TOKEN.search(page).group(1)
    assert viewer.post(f"/alerts/{event_id}/ack", data={"note": "x", "csrf_token": token}).status_code == 403
    token = TOKEN.search(client.get("/alerts").get_data(as_text=True)).group(1)
    done = client.post(f"/alerts/{event_id}/ack", data={"note": "已电话联系，居家观察", "csrf_token": token})
    assert done.status_code == 302
    assert rows_of(client.get("/alerts?site=longhai&code=fever").get_data(as_text=True), "alerts") == [
        "2026-11-29 08:30 longhai-gate 体温异常 37.6℃ 孙丽 1栋1单元102室 已由 office 确认 已电话联系，居家观察"]
    assert len(rows_of(client.get("/alerts?open=1").get_data(as_text=True), "alerts")) == 8
    assert client.post("/alerts/no-such-event/ack", data={"csrf_token": token}).status_code == 404


def test_who_is_inside_now_per_compound_with_caveats(client):
    html = client.get("/inside").get_data(as_text=True)
    jinan = re.search(r'<section class="compound" id="inside-jinan">.*?</section>', html, re.S).group(0)
    assert "锦楠花园: 4人 1车" in text_of(jinan)
    assert [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr class=.*?</tr>", jinan, re.S)] == [
        "张丽 R002 1栋1单元101室 2026-11-29 09:06 jinan-gate 人工放行",
        "张晓明 R001 1栋1单元101室 2026-11-29 11:00 jinan-gate",
        "杨帆 R005 3栋1单元502室 2026-11-29 17:00 jinan-gate",
        "黄磊 R006 3栋2单元601室 2026-11-29 20:00 jinan-gate 未扫码",
        "张晓明 1栋1单元101室 陕H12345 2026-11-29 11:00 jinan-gate"]
    longhai = re.search(r'<section class="compound" id="inside-longhai">.*?</section>', html, re.S).group(0)
    assert "龙海家园: 2人 0车" in text_of(longhai)
    assert "不是人口普查" in text_of(html)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_contact_tracing_of_a_person_a_household_and_a_gate_window(client):
    assert "人员（编号或姓名）" in text(client.get("/trace"))
    person = client.get("/trace?person=张丽&start=2026-11-29T00:00&end=2026-11-30T00:00").get_data(as_text=True)
    assert [row.split(" ")[1] for row in rows_of(person, "events")] == ["09:06:00", "09:05:00", "09:00:00"]
    household = client.get("/trace?household=jinan:1-1-101").get_data(as_text=True)
    assert len(rows_of(household, "events")) == 5  # R001 twice, R002 three times
    window = client.get("/trace?gate=longhai-gate&start=2026-11-29T08:00&end=2026-11-29T11:00").get_data(
        as_text=True)
    assert [cells[8] for cells in cells_of(window, "events")] == ["郑强 L003", "郑强 L003", "王芳 L004", "孙丽 L002"]
    exported = openpyxl.load_workbook(io.BytesIO(client.get(
        "/events.xlsx?kind=passages&gate=longhai-gate&start=2026-11-29T08:00&end=2026-11-29T11:00").data)).active
    assert [row[8] for row in exported.iter_rows(min_row=2, values_only=True)] == ["郑强", "郑强", "王芳", "孙丽"]


HEALTH_SOURCE = ("名单依据", "台账中 2026-11-29 当天有效的隔离、监测记录；返乡为当天报备")
REPORT_JINAN = [("进入", "4人 1车"), ("外出", "2人 0车"), ("通行人数（去重）", "5"), ("日终在内", "4人 1车"),
                ("发热拦截", "1"), ("", "09:00 jinan-gate 张丽 38.2℃ 复测36.8℃ 请人工核验 已人工放行"),
                ("返乡报备", "高风险1人；中风险0人；低风险0人"), ("居家隔离", "1：刘洋"), ("集中隔离", "1：陈静"),
                ("健康监测", "1：杨帆"), HEALTH_SOURCE, ("拒绝通行（按原因）", "体温异常 × 1；居家隔离人员，不得外出 × 1；通行证已注销 × 1"),
                ("人工放行", "1"), ("", "09:06 jinan-gate 张丽：复测正常"),
                ("jinan-gate 夜班", "赵卫东(G002) 00:05–07:55"),
                ("jinan-gate 早班", "王建国(G001) 08:00–11:30；王建国(G001) 12:15–15:58"),
                ("jinan-gate 中班", "李秀英(S001) 16:00–23:50")]
REPORT_LONGHAI = [("进入", "2人 0车"), ("外出", "3人 1车"), ("通行人数（去重）", "4"), ("日终在内", "2人 0车"),
                  ("发热拦截", "1"), ("", "08:30 longhai-gate 孙丽 37.6℃"), ("返乡报备", "高风险0人；中风险0人；低风险0人"),
                  ("居家隔离", "1：郑强"), ("集中隔离", "0"), ("健康监测", "1：王芳"), HEALTH_SOURCE,
                  ("拒绝通行（按原因）", "体温异常 × 1；居家隔离人员，不得外出 × 1"), ("人工放行", "1"),
                  ("", "10:31 longhai-gate 郑强：就医"),
                  ("longhai-gate 夜班", "周海(G102) 07:00–07:59；孙振华(G101) 07:50–08:00"),
                  ("longhai-gate 早班", "孙振华(G101) 08:00–16:00"),
                  ("longhai-gate 中班", "孙振华(G101) 16:00–16:10；马红梅(S101) 16:00–23:00")]


def report_pairs(html: str) -> list[tuple[str, str]]:
    return [(text_of(th).strip(), text_of(td).strip())
            for th, td in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", html, re.S)]


def test_daily_report_page_and_printable_html(client):
    page = client.get(f"/report?date={DAY}").get_data(as_text=True)
    assert report_pairs(page) == REPORT_JINAN + REPORT_LONGHAI
    printable = client.get(f"/report.html?date={DAY}&site=longhai").get_data(as_text=True)
    assert "<h1>社区防疫卡口日报 2026-11-29</h1>" in printable and "<h2>小区：龙海家园 · 2026-11-29</h2>" in printable
    assert '<link rel="stylesheet" href="/static/report-print.css">' in printable and "<nav" not in printable
    style = client.get("/static/report-print.css")
    assert "@media print" in style.get_data(as_text=True)  # no inline style under the CSP
    style.close()
    assert report_pairs(printable) == REPORT_LONGHAI


def test_daily_report_xlsx_cell_by_cell(client):
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"/report.xlsx?date={DAY}").data)).active
    cells = [tuple(c if c is not None else "" for c in row) for row in sheet.iter_rows(values_only=True)]
    assert cells == [("社区防疫卡口日报 2026-11-29", ""), ("", ""), ("小区：锦楠花园 · 2026-11-29", ""), *REPORT_JINAN,
                     ("", ""), ("小区：龙海家园 · 2026-11-29", ""), *REPORT_LONGHAI]


def test_daily_report_pdf_has_the_chinese_text(client, tmp_path):
    response = client.get(f"/report.pdf?date={DAY}")
    assert response.data.startswith(b"%PDF") and response.mimetype == "application/pdf"
    (tmp_path / "report.pdf").write_bytes(response.data)
    pdf_text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
    lines = [re.sub(r"\s+", " ", line).strip() for line in pdf_text.splitlines() if line.strip()]
    assert lines[:3] == ["社区防疫卡口日报 2026-11-29", "小区：锦楠花园 · 2026-11-29", "进入 4人 1车"]
    for label, value in REPORT_JINAN + REPORT_LONGHAI:
        assert f"{label} {value}".strip() in lines
    fonts = subprocess.run(["pdffonts", str(tmp_path / "report.pdf")], capture_output=True, text=True).stdout
    assert "NotoSansCJKSC" in fonts  # Simplified Chinese glyphs, not the collection's Japanese first font
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(tmp_path / "report.pdf"),
                    str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 5000  # rendered, not blank


def test_cli_report_gives_the_same_in_every_format(office_day, tmp_path, client):
    def report(*args):
        result = CliRunner().invoke(cli, ["--home", str(office_day), "office", "report", "--date", DAY, *args])
        assert result.exit_code == 0, result.output
        return result

    html = report("--format", "html").output
    assert report_pairs(html) == REPORT_JINAN + REPORT_LONGHAI
    served = client.get(f"/report.html?date={DAY}").get_data(as_text=True)
    assert "<style>" in html and "@media print" in html  # the file stands alone
    assert re.sub(r"<style>.*?</style>", "", html, flags=re.S) == served.replace(
        '<link rel="stylesheet" href="/static/report-print.css">', "")
    for fmt in ("xlsx", "pdf"):
        report("--format", fmt, "--out", str(tmp_path / f"report.{fmt}"))
        assert (tmp_path / f"report.{fmt}").read_bytes()[:4] == (b"PK\x03\x04" if fmt == "xlsx" else b"%PDF")
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx").active
    assert sheet["A4"].value == "进入" and sheet["B4"].value == "4人 1车"
    assert "小区：锦楠花园 · 2026-11-29 进入 4人 1车" in re.sub(r"\s+", " ", subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True).stdout)
    assert report_pairs(report("--format", "html", "--site", "jinan").output) == REPORT_JINAN


HOSTILE = ["\x00", "a\x00b", "'; DROP TABLE gate_events; --", "%", "?", ":site", "\\", "é" * 300, "-1", "9" * 40,
           "2026-13-45T99:99", "<script>", "{}", "[]", "NULL"]


def test_hostile_filter_values_never_answer_5xx_on_either_store(client):
    """Every filter and date the pages take, given what a browser never sends (a NUL byte, which a
    PostgreSQL text column refuses; quotes; the translator's own markers; huge numbers)."""
    names = ["start", "end", "site", "gate", "lane", "shift", "outcome", "code", "person", "household", "plate",
             "kind", "community", "after", "date", "level", "open"]
    for value in HOSTILE:
        query = dict.fromkeys(names, value)
        for url in ("/", "/events", "/events.csv", "/events.xlsx", "/trace", "/shifts", "/alerts", "/inside",
                    "/report", "/report.html", "/security"):
            status = client.get(url, query_string=query).status_code
            assert status in (200, 302, 400, 404), (url, value, status)
        for name in names:
            assert client.get("/events", query_string={name: value}).status_code in (200, 400), (name, value)
        token = TOKEN.search(client.get("/alerts").get_data(as_text=True)).group(1)
        acked = client.post(f"/alerts/{value.replace('/', '_') or 'x'}/ack", data={"note": value, "csrf_token": token})
        assert acked.status_code in (302, 400, 404), (value, acked.status_code)
