"""Issue 10, cases 5 and 6: the override policy is the server's, and every form records once.

Real SQLite, the Flask test client; the parallel overrides come from threads, each with its
own signed-on client, all released at once.
"""

from __future__ import annotations

import json
import re
import threading

import pytest

from kiosk.core.rules import Scan
from kiosk.store import guards
from kiosk.store.guards import GuardError
from tests.core.test_rules import forged_signature
from tests.web.conftest import TOKEN, create_app, sign_on
from tests.web.test_actions import RETURNEE, last_event

NONCE = re.compile(r'name="nonce" value="([0-9a-f]{32})"')


def form_fields(client, url: str) -> dict:
    """The hidden fields of the first form on ``url``: the CSRF token and the form's nonce."""
    html = client.get(url).get_data(as_text=True)
    return {"csrf_token": TOKEN.search(html).group(1), "nonce": NONCE.search(html).group(1)}


def high_risk_referral(client, gate) -> dict:
    client.post("/actions/returnee", data={**RETURNEE, "origin": "610113", **form_fields(client, "/actions/returnee")})
    referral = last_event(gate)
    assert json.loads(referral["codes"]) == ["returnee_high_risk"]
    return referral


# --- case 5: the policy is the server's, whatever the page shows ---------------------------

def test_case5_a_guard_alone_cannot_override_a_high_risk_returnee_by_posting(client, gate):
    sign_on(client)
    url = f"/actions/override/{high_risk_referral(client, gate)['id']}"
    hidden = form_fields(client, url)
    refused = client.post(url, data={"reason": "自行放行", "approved_by": "", **hidden})  # no supervisor fields
    assert refused.status_code == 403 and "此项放行需要主管的编号和密码" in refused.get_data(as_text=True)
    own_pin = client.post(url, data={"reason": "自行放行", "supervisor_id": "G001", "supervisor_pin": "1234", **hidden})
    assert own_pin.status_code == 403 and "不能由放行的值班员本人授权" in own_pin.get_data(as_text=True)
    assert gate.db["events"].count_where("kind = 'override'") == 0


def test_a_supervisor_cannot_approve_their_own_override(client, gate):
    sign_on(client, "S001", "999999")
    url = f"/actions/override/{high_risk_referral(client, gate)['id']}"
    response = client.post(url, data={"reason": "已安排转运", "supervisor_id": "S001", "supervisor_pin": "999999",
                                      **form_fields(client, url)})
    assert response.status_code == 403 and gate.db["events"].count_where("kind = 'override'") == 0


def test_a_plain_guards_pin_does_not_approve(client, gate):
    guards.add_guard(gate.db, "G002", "李强", "5678", "南秦社区", "guard")
    sign_on(client)
    url = f"/actions/override/{high_risk_referral(client, gate)['id']}"
    response = client.post(url, data={"reason": "已安排转运", "supervisor_id": "G002", "supervisor_pin": "5678",
                                      **form_fields(client, url)})
    assert response.status_code == 403 and gate.db["events"].count_where("kind = 'override'") == 0


@pytest.mark.parametrize("supervisor", [{}, {"supervisor_id": "G001", "supervisor_pin": "1234"}])
def test_the_gate_service_itself_refuses_an_unsupervised_override(gate, demo, supervisor):
    refused = gate.check(Scan("out", token=demo.tokens["isolated"], temperature=36.5, lane="out")).event
    with pytest.raises(GuardError) as raised:
        gate.override(refused["id"], "G001", "就医", gate.now(), **supervisor)
    assert raised.value.code == ("supervisor_not_self" if supervisor else "supervisor_required")
    assert gate.db["events"].count_where("kind = 'override'") == 0


def test_codes_that_are_not_overridable_are_refused_on_the_server(client, gate, demo):
    sign_on(client)
    refused = gate.check(Scan("in", token=forged_signature(demo.tokens["resident"]), temperature=36.5,
                              lane="in")).event
    assert json.loads(refused["codes"]) == ["bad_signature"]
    url = f"/actions/override/{refused['id']}"
    response = client.post(url, data={"reason": "认识他", **form_fields(client, url)})
    assert response.status_code == 409 and "此类拒绝不允许人工放行" in response.get_data(as_text=True)
    assert gate.db["events"].count_where("kind = 'override'") == 0


# --- case 6: exactly once ------------------------------------------------------------------

def test_case6_twelve_parallel_overrides_record_one(demo, clock, gate):
    refused = gate.check(Scan("in", token=demo.tokens["revoked"], temperature=36.5, lane="in")).event
    url = f"/actions/override/{refused['id']}"
    app = create_app({"KIOSK_HOME": str(demo.gate_home), "CLOCK": clock, "TESTING": True})
    clients = [app.test_client() for _ in range(12)]
    forms = []
    for client in clients:
        sign_on(client)
        forms.append({"reason": "物业确认本人", **form_fields(client, url)})
    start, statuses = threading.Barrier(len(clients)), []

    def press(client, form):
        start.wait()
        statuses.append(client.post(url, data=form).status_code)

    threads = [threading.Thread(target=press, args=pair) for pair in zip(clients, forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [302] + [409] * 11
    overrides = list(gate.db.query("SELECT nonce, data FROM events WHERE kind = 'override'"))
    assert [row["nonce"] for row in overrides] == [f"override:{refused['id']}"]
    assert gate.db["lane_commands"].count == 1


def test_case6_a_double_submitted_returnee_form_records_one_event(client, gate):
    sign_on(client)
    form = {**RETURNEE, "origin": "610113", **form_fields(client, "/actions/returnee")}
    first = client.post("/actions/returnee", data=form)
    again = client.post("/actions/returnee", data=form)
    assert (first.status_code, again.status_code) == (200, 200)
    assert gate.db["events"].count_where("kind = 'returnee'") == 1
    assert "转集中隔离" in again.get_data(as_text=True)  # the first result, shown again


def test_a_double_tapped_manual_check_and_vehicle_form_record_once(client, gate, demo):
    sign_on(client)
    before = gate.db["events"].count
    check = {"pass_id": demo.pass_ids["resident"], "lane": "in", "temperature": "36.4",
             **form_fields(client, "/actions/check")}
    pages = [client.post("/actions/check", data=check).get_data(as_text=True) for _ in range(2)]
    vehicle = {"plate": "陕H 12345", "lane": "in", "disinfected": "yes", "driver": demo.pass_ids["monitored"],
               "driver_temperature": "36.5", "passenger": [demo.pass_ids["household_member"]],
               "passenger_temperature": ["36.6"], **form_fields(client, "/actions/vehicle")}
    for _ in range(2):
        client.post("/actions/vehicle", data=vehicle)
    assert gate.db["events"].count == before + 3  # the check, the vehicle with its driver, the passenger
    assert "通行" in pages[1] and re.findall(r'data-seq="(\d+)"', pages[0]) == re.findall(r'data-seq="(\d+)"', pages[1])


def test_a_double_submitted_sign_on_records_one_event(client, gate):
    form = {"guard_id": "G001", "pin": "1234", "lane": "in", **form_fields(client, "/sign-on")}
    assert [client.post("/sign-on", data=form).status_code for _ in range(2)] == [302, 302]
    assert gate.db["events"].count_where("kind = 'sign_on'") == 1
    assert gate.db["duty"].count_where("off_utc IS NULL") == 1


def test_the_opened_page_waits_for_the_lane_then_says_it_did_not_open(client, gate, demo, clock):
    sign_on(client)
    refused = gate.check(Scan("in", token=demo.tokens["revoked"], temperature=36.5, lane="in")).event
    url = f"/actions/override/{refused['id']}"
    done = client.post(url, data={"reason": "物业确认本人", **form_fields(client, url)})
    waiting = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "正在等待闸机开启" in waiting and 'http-equiv="refresh"' in waiting
    clock.advance(seconds=31)  # no lane process took the command: it would refuse it now
    stale = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "闸机未能及时开启，请手动开闸" in stale and 'http-equiv="refresh"' not in stale
