"""Issue 11: the touchscreen's delivery log and a supervisor's visitor pass (Flask test client)."""

from __future__ import annotations

import json
import re

from kiosk.core.rules import Scan
from tests.web.conftest import TOKEN, post, sign_on
from web.lookup import mask_name, subject_name

HOME = "jinan:1-1-101"
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def test_a_delivery_is_logged_on_the_touchscreen_and_its_fever_refused(client, gate):
    sign_on(client)
    page = client.get("/actions/").get_data(as_text=True)
    assert "快递外卖登记" in page and "签发访客证" in page
    form = client.get("/visitors/delivery").get_data(as_text=True)
    assert f'<option value="{HOME}" >1号楼1单元101室</option>' in form
    fields = {"company": "顺丰", "phone": "13700000000", "household": HOME, "temperature": "38.2",
              "csrf_token": TOKEN.search(form)[1], "nonce": NONCE.search(form)[1]}
    html = client.post("/visitors/delivery", data=fields).get_data(as_text=True)
    assert 'class="outcome-box deny"' in html and "体温异常" in html
    client.post("/visitors/delivery", data=fields)  # the same form sent twice: one entry
    rows = list(gate.db.query("SELECT * FROM events WHERE kind = 'delivery'"))
    assert [(r["outcome"], r["guard_id"], r["temperature"], json.loads(r["data"])["company"]) for r in rows] == [
        ("deny", "G001", 38.2, "顺丰")]
    refused = post(client, "/visitors/delivery", {"household": HOME, "temperature": "36.5"})
    assert refused.status_code == 400 and "请填写姓名（快递可填公司）" in refused.get_data(as_text=True)


def test_a_supervisor_issues_a_visitor_pass_on_the_touchscreen(client, gate, clock):
    sign_on(client)
    guard_only = post(client, "/visitors/pass", {"name": "王芳", "household": HOME, "hours": "2",
                                                 "supervisor_id": "G001", "supervisor_pin": "1234"})
    assert guard_only.status_code == 403 and "只有值班主管可以签发访客证" in guard_only.get_data(as_text=True)
    wrong = post(client, "/visitors/pass", {"name": "王芳", "household": HOME, "hours": "2",
                                            "supervisor_id": "S001", "supervisor_pin": "0000"})
    assert wrong.status_code == 401
    issued = post(client, "/visitors/pass", {"name": "王芳", "household": HOME, "hours": "2", "purpose": "维修",
                                             "supervisor_id": "S001", "supervisor_pin": "999999"})
    pass_id = re.search(r'id="visitor-pass">\s*<div class="outcome">(V[0-9A-F]{10})</div>', issued.get_data(as_text=True))[1]
    result = gate.check(Scan("in", pass_id=pass_id, temperature=36.6, source="manual", lane="in"), clock.now())
    assert (result.decision.outcome, result.decision.subject_kind, result.decision.household_id) == \
        ("allow", "visitor", HOME)
    assert mask_name(subject_name(gate.db, result.event)) == "王*"  # the lane's card names the visitor, masked
