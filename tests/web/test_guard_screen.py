"""Issue 13 on the server side: the facts a guard needs, alarms that stay, and the friction removed.

In-process Flask client on the demo community; the layout itself is measured in Chromium
(tests/web/test_screen_layout.py).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.store import lane_state
from tests.conftest import NOW
from tests.web.conftest import csrf_token, post, sign_on


def events_of(gate, kind: str) -> list[dict]:
    return list(gate.db.query("SELECT * FROM events WHERE kind = ? ORDER BY seq", [kind]))


# --- friction ------------------------------------------------------------------------------

def test_guard_ids_are_case_insensitive_and_kept_after_a_wrong_pin(client, gate):
    wrong = sign_on(client, guard_id="g001", pin="0000")
    assert wrong.status_code == 401
    assert 'name="guard_id" required autocapitalize="characters" value="g001"' in wrong.get_data(as_text=True)
    assert sign_on(client, guard_id=" g001 ").status_code == 302
    assert [row["guard_id"] for row in gate.db.query("SELECT * FROM duty WHERE off_utc IS NULL")] == ["G001"]
    assert client.get("/actions/").status_code == 200  # the session holds G001, as stored


def test_a_supervisor_id_typed_in_lower_case_approves_an_override(client, gate, demo):
    sign_on(client)
    fever = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.4, lane="in")).event
    response = post(client, f"/actions/override/{fever['id']}",
                    {"reason": "复测正常", "supervisor_id": "s001", "supervisor_pin": "999999"})
    assert response.status_code == 302
    assert json.loads(events_of(gate, "override")[0]["data"])["approved_by"] == "S001"


def test_the_returnee_form_preselects_nothing_orders_risks_dates_today_and_lists_households(client, gate):
    sign_on(client)
    html = client.get("/actions/returnee").get_data(as_text=True)
    origin = html[html.index('name="origin"'):html.index("</select>", html.index('name="origin"'))]
    assert re.findall(r'<option value="(\d*)"', origin) == ["", "610113", "610112", "610102"]  # high, medium, low
    assert '<option value="" selected disabled>请选择</option>' in origin
    assert 'name="arrival" type="date" required max="2026-11-29" value="2026-11-29"' in html
    households = html[html.index('name="household"'):]
    assert re.findall(r'<option value="([^"]*)"', households)[:4] == ["", "1-1-101", "2-1-302", "2-2-201"]


def test_a_returnee_household_must_be_one_of_the_registry(client, gate):
    sign_on(client)
    form = {"name": "马小军", "phone": "13912345678", "id_last4": "1234", "origin": "610102",
            "arrival": "2026-11-28", "household": "abc"}
    refused = post(client, "/actions/returnee", form)
    assert refused.status_code == 400 and "请填写返回的住户" in refused.get_data(as_text=True)
    assert events_of(gate, "returnee") == []
    assert post(client, "/actions/returnee", {**form, "household": "3-1-502"}).status_code == 200
    [event] = events_of(gate, "returnee")
    assert (event["household_id"], json.loads(event["data"])["household"]) == ("jinan:3-1-502", "3-1-502")


def test_a_plate_typed_without_its_province_is_the_registered_one(client, gate, demo):
    sign_on(client)
    post(client, "/actions/vehicle", {"plate": "h12345", "driver": demo.pass_ids["resident"], "lane": "in",
                                      "driver_temperature": "36.5", "disinfected": "yes"})
    [event] = [e for e in events_of(gate, "manual") if e["subject_kind"] == "resident"]
    assert (event["plate"], event["outcome"]) == ("陕H12345", "allow")


def test_a_plate_without_its_province_stays_as_typed_when_two_plates_fit(gate):
    from web.guard_actions import completed_plate

    gate.db["vehicles"].insert({"plate": "京H12345", "household_id": None, "note": None})
    assert completed_plate(gate, "H12345") == "H12345"  # 陕 or 京: the guard must say
    assert completed_plate(gate, "H6789a") == "陕H6789A"
    assert completed_plate(gate, "陕H6789A") == "陕H6789A"


def test_lanes_are_shown_by_name(client, gate):
    sign_on(client, lane="out")
    html = client.get("/screen/status").get_data(as_text=True)
    assert "王建国(G001·出口通道)" in html and "·out)" not in html


# --- facts ---------------------------------------------------------------------------------

def test_an_isolation_card_names_the_responsible_cadre(client, gate, demo):
    sign_on(client)
    gate.db["health"].update("R003", {"cadre_phone": "13700000009"})
    gate.check(Scan("out", token=demo.tokens["isolated"], lane="out"))
    html = client.get("/screen/").get_data(as_text=True)
    assert '<div class="fact cadre">负责干部：赵干部 13700000009</div>' in html


def test_a_quota_card_says_who_went_out_and_when_the_quota_renews(client, gate, demo):
    sign_on(client)
    gate.check(Scan("out", token=demo.tokens["household_member"], lane="out"))  # 张丽, same household
    refused = gate.check(Scan("out", token=demo.tokens["resident"], lane="out"))
    assert refused.decision.codes == ("household_quota",)
    html = client.get("/screen/?lang=en").get_data(as_text=True)
    assert '<div class="fact quota">Out from household: 张* (11-29 10:01) Quota renews 12-01 10:01</div>' in html


def test_the_handover_note_is_shown_at_sign_on_and_acknowledged_once(client, gate):
    gate.sign_on("S001", "999999", "in", gate.now())
    gate.sign_off("S001", "999999", gate.now(), "2号楼外卖车辆已登记，快递柜门坏了")
    response = sign_on(client)
    assert response.location == "/screen/handover"
    page = client.get("/screen/handover").get_data(as_text=True)
    assert "李秀英（S001）11-29 10:01 下岗时留言：" in page and "快递柜门坏了" in page
    note_id = events_of(gate, "sign_off")[0]["id"]
    assert post(client, f"/screen/alarms/{note_id}/ack", {"next": "/screen/"}, "/screen/handover").location == "/screen/"
    [ack] = events_of(gate, "ack")
    assert (ack["guard_id"], json.loads(ack["data"])) == ("G001", {"acknowledges": note_id})
    assert client.get("/screen/handover").location == "/screen/"  # read: not shown again


def test_a_guard_signed_on_in_an_earlier_shift_is_flagged(app, client, gate, clock):
    sign_on(client)  # 10:01, the morning shift
    assert "上一班未下岗" not in client.get("/screen/status").get_data(as_text=True)
    app.config["CLOCK"] = FixedClock(NOW.replace(hour=16, minute=30))  # the afternoon shift
    html = client.get("/screen/status").get_data(as_text=True)
    assert '<b class="bad">王建国(G001·入口通道) ⚠上一班未下岗</b>' in html


def test_a_typed_temperature_says_for_whom_it_was_used_or_that_it_expired(app, client, gate, demo):
    sign_on(client)
    post(client, "/actions/temperature", {"value": "36.7", "lane": "in"})
    assert "36.7℃ · 入口通道 · 等待下一位" in client.get("/actions/temperature").get_data(as_text=True)
    reading = lane_state.unconsumed_readings(gate.db, "in")[0]
    gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.7, lane="in", temperature_source="typed",
                    temperature_by="G001"))
    lane_state.consume_reading(gate.db, reading["id"], gate.now())
    assert "36.7℃ · 入口通道 · 已用于 张*明（10:01）" in client.get("/actions/temperature").get_data(as_text=True)
    post(client, "/actions/temperature", {"value": "36.9", "lane": "in"})
    app.config["CLOCK"] = FixedClock(NOW + timedelta(minutes=3))
    assert "36.9℃ · 入口通道 · 已过期未使用" in client.get("/actions/temperature").get_data(as_text=True)


# --- alarms that stay ----------------------------------------------------------------------

def test_an_alarm_stays_on_every_guard_page_until_acknowledged(client, gate, demo):
    sign_on(client)
    fever = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.6, lane="in")).event
    gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in"))  # the next scan
    for page in ("/screen/", "/actions/check", "/actions/returnee", "/actions/vehicle", "/actions/temperature"):
        html = client.get(page).get_data(as_text=True)
        assert f'action="/screen/alarms/{fever["id"]}/ack"' in html and "周*（R007）" not in html, page
        assert 'src="/static/live.js"' in html, page  # the stream and the beep on forms too
    back = post(client, f"/screen/alarms/{fever['id']}/ack", {"next": "/actions/check"}, "/actions/check")
    assert back.location == "/actions/check"
    assert f"/screen/alarms/{fever['id']}/ack" not in client.get("/screen/alarms").get_data(as_text=True)
    [ack] = events_of(gate, "ack")
    assert (ack["guard_id"], json.loads(ack["data"]), ack["nonce"]) == \
        ("G001", {"acknowledges": fever["id"]}, f"ack:{fever['id']}")
    again = client.post(f"/screen/alarms/{fever['id']}/ack",
                        data={"csrf_token": csrf_token(client, "/actions/check"), "next": "/screen/"})
    assert again.status_code == 302 and len(events_of(gate, "ack")) == 1  # a double tap records one
    nothing = client.post("/screen/alarms/no-such-event/ack", data={"csrf_token": csrf_token(client, "/actions/check")})
    assert nothing.status_code == 404


def test_a_failed_device_is_on_the_strip_while_it_fails(client, gate):
    sign_on(client)
    gate.db["lane_status"].insert({"lane": "out", "camera": "error", "thermometer": "ok", "scanner": None,
                                   "detail": "", "updated_utc": "2026-11-29T02:00:00.000Z"})
    assert "出口通道 · 摄像头故障" in client.get("/actions/check").get_data(as_text=True)
    gate.db["lane_status"].update("out", {"camera": "ok"})
    assert "摄像头故障" not in client.get("/screen/alarms").get_data(as_text=True)


def test_the_service_worker_and_offline_page_are_served(client):
    with client.get("/screen/sw.js") as worker:
        assert worker.status_code == 200 and worker.headers["Service-Worker-Allowed"] == "/"
        assert "caches.match(OFFLINE)" in worker.get_data(as_text=True)
    offline = client.get("/screen/offline").get_data(as_text=True)
    assert "与值班服务器断开" in offline and "offline.js" in offline


def test_a_search_shows_three_persons_and_asks_for_more_rather_than_scroll(client, gate):
    sign_on(client)
    for number in range(4):
        gate.db["persons"].insert({"id": f"R9{number}", "name": f"欧阳娜{number}", "household_id": None, "phone": None})
    html = client.get("/actions/check?q=欧阳").get_data(as_text=True)
    assert html.count('<li><span class="name">') == 3 and "结果较多，只显示前 3 位" in html


def test_acknowledging_never_redirects_off_the_site(client, gate, demo):
    sign_on(client)
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        fever = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.6, lane="in")).event
        response = post(client, f"/screen/alarms/{fever['id']}/ack", {"next": target}, "/actions/check")
        assert response.location == "/screen/", target
