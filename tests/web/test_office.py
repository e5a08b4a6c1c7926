"""Office pages: events with filters and paging, exports, shift logs, alerts, chart."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from kiosk.core.rules import Scan
from tests.web.conftest import OFFICE_USER, office_login, post, sign_on
from web.event_query import PAGE_SIZE, safe_cell


def scans(gate, demo, clock):
    """A small morning: two in, one fever, one isolated person at the exit."""
    gate.sign_on("G001", "1234", "in", clock.now())
    for role, direction, temperature in (("resident", "in", 36.5), ("household_member", "in", 36.4),
                                         ("second_resident", "in", 38.1), ("isolated", "out", 36.6)):
        clock.advance(minutes=5)
        gate.check(Scan(direction, token=demo.tokens[role], temperature=temperature, lane=direction), clock.now())


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_events_filters_and_exports_match(client, gate, demo, clock):
    scans(gate, demo, clock)
    office_login(client)
    html = client.get("/office/events?outcome=deny").get_data(as_text=True)
    assert "共 2 条" in html
    rows = csv_rows(client.get("/office/events.csv?outcome=deny").data)
    assert rows[0][:3] == ["序号", "时间", "班次"]
    assert sorted(r[7] for r in rows[1:]) == ["fever", "home_isolation"]
    fever = csv_rows(client.get("/office/events.csv?code=fever&direction=in&lane=in&guard=G001"
                                "&date=2026-11-29&shift=morning").data)
    assert len(fever) == 2 and fever[1][13] == "38.1"
    assert len(csv_rows(client.get("/office/events.csv?shift=night").data)) == 1
    response = client.get("/office/events.xlsx?outcome=allow&kind=ignored")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert len(values) == 1 + 2 and {row[10] for row in values[1:]} == {"R001", "R002"}


def test_english_export_headers(client):
    office_login(client)
    assert csv_rows(client.get("/office/events.csv?lang=en").data)[0][:2] == ["Seq", "Time"]


def test_events_are_paged(client, gate, clock):
    office_login(client)
    for i in range(PAGE_SIZE + 3):
        gate.record("manual_open", clock.now(), lane="in", data={"n": i})
    first = client.get("/office/events").get_data(as_text=True)
    assert "第 1 / 2 页" in first and first.count("<tr class=") == PAGE_SIZE
    assert client.get("/office/events?page=2").get_data(as_text=True).count("<tr class=") == 3


def test_formula_injection_is_neutralised(client, gate, clock):
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "ok", 3)] == \
        ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "ok", 3]
    gate.check(Scan("in", pass_id="=HYPERLINK(\"x\")", lane="in", source="manual"), clock.now())
    gate.check(Scan("in", plate="=cmd|' /C calc'!A0", lane="in", source="manual"), clock.now())
    office_login(client)
    rows = csv_rows(client.get("/office/events.csv").data)
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    sheet = load_workbook(io.BytesIO(client.get("/office/events.xlsx").data)).active
    assert all(not str(cell).startswith("=") for row in sheet.values for cell in row if cell is not None)


def test_shift_log_with_handover_note(client, gate, demo, clock):
    scans(gate, demo, clock)
    gate.sign_off("G001", "1234", clock.now(), "<b>2号楼</b>外卖已登记")
    office_login(client)
    html = client.get("/office/shifts?date=2026-11-29").get_data(as_text=True)
    assert "2026-11-29 班次日志" in html and html.count('class="shift-log"') == 3
    assert "2 人，0 车" in html and "体温异常 × 1" in html and "居家隔离人员，不得外出 × 1" in html
    assert "&lt;b&gt;2号楼&lt;/b&gt;外卖已登记" in html


def test_alerts_can_be_acknowledged_with_a_note(client, gate, demo, clock):
    scans(gate, demo, clock)
    office_login(client)
    html = client.get("/office/alerts").get_data(as_text=True)
    assert html.count('<tr class="open">') == 2
    fever = list(gate.db.query("SELECT id FROM events WHERE codes LIKE '%fever%'"))[0]["id"]
    response = post(client, f"/office/alerts/{fever}/ack", {"note": "已通知<社区医生>"}, form_url="/office/alerts")
    assert response.status_code == 302
    html = client.get("/office/alerts").get_data(as_text=True)
    assert html.count('<tr class="open">') == 1 and f"已由 {OFFICE_USER} 确认 已通知&lt;社区医生&gt;" in html
    assert list(gate.db.query("SELECT acked_by, note FROM alert_acks")) == [{"acked_by": OFFICE_USER, "note": "已通知<社区医生>"}]
    normal = list(gate.db.query("SELECT id FROM events WHERE outcome = 'allow' LIMIT 1"))[0]["id"]
    assert post(client, f"/office/alerts/{normal}/ack", {"note": ""}, form_url="/office/alerts").status_code == 404


def test_overrides_and_returnees_are_alerts(client, gate, demo, clock):
    sign_on(client)
    refused = gate.check(Scan("in", token=demo.tokens["revoked"], lane="in"), clock.now()).event
    post(client, f"/actions/override/{refused['id']}", {"reason": "本人在场"})
    post(client, "/actions/returnee", {"name": "马小军", "phone": "13912345678", "id_last4": "1234",
                                       "origin": "610112", "arrival": "2026-11-28", "household": "3-1-502"})
    client2 = client.application.test_client()
    office_login(client2)
    html = client2.get("/office/alerts").get_data(as_text=True)
    assert html.count('<tr class="open">') == 3 and "本人在场" in html and "马小军" in html


def test_alerts_show_the_fever_reading_and_the_remeasured_one(client, gate, demo, clock):
    token = demo.tokens["resident"]
    gate.check(Scan("in", token=token, temperature=37.8, lane="in"), clock.now())
    again = gate.check(Scan("in", token=token, temperature=37.1, lane="in", temperature_source="typed",
                            temperature_by="G001"), clock.advance(minutes=5))
    assert again.decision.codes == ("fever_remeasured",)
    office_login(client)
    html = client.get("/office/alerts").get_data(as_text=True)
    assert html.count('<tr class="open">') == 2 and html.count("首次 37.8℃，复测 37.1℃") == 1


def test_chart_counts_people_per_hour(client, gate, demo, clock):
    scans(gate, demo, clock)
    office_login(client)
    html = client.get("/office/chart?date=2026-11-29").get_data(as_text=True)
    assert "进 2 人，出 0 人" in html and html.count('<rect class="bar') == 48
    assert '<rect class="bar in" x="' in html and "<title>2</title>" in html
    assert "进 0 人" in client.get("/office/chart?date=2026-11-28").get_data(as_text=True)
    clock.advance(days=1)
    office_login(client)  # a day later: the office session (12 hours) has expired
    assert "进 0 人" in client.get("/office/chart").get_data(as_text=True)  # today by default


def test_odd_page_and_date_values_fall_back_instead_of_failing(client):
    office_login(client)
    for page in ("²", "0", "x", "-1", str(10**30)):  # '²'.isdigit() is True but int('²') fails
        assert client.get(f"/office/events?page={page}").status_code == 200, page
    for day in ("9999-12-31", "0001-01-01"):  # the shifts of the day before/after are beyond the calendar
        html = client.get(f"/office/shifts?date={day}").get_data(as_text=True)
        assert "2026-11-29" in html, day
