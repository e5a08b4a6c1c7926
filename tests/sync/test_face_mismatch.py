"""Issue 17 part 2 end to end: a scan at the gate, the guard's tap "face does not match" on the
screen, a real office pull over HTTPS, then the office's alert page and the marked pass."""

from __future__ import annotations

import html
import json
import re

import pytest
from sync_helpers import kiosk

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.office.service import Office
from kiosk.sim.demo import ROLES
from kiosk.store import photos, web_users
from kiosk.store.db import transaction
from tests.conftest import NOW, STORES
from tests.web.conftest import TOKEN, csrf_token, sign_on
from tests.web.test_holder_photo import portrait
from web import create_app
from web.office_query import inside_now

pytestmark = pytest.mark.parametrize("office_store", STORES, indirect=True)  # each test on both office stores


def test_a_face_mismatch_at_the_gate_is_an_office_alert_and_marks_the_pass(community, office_with_gate):
    clock, photo = FixedClock(NOW), portrait(90)
    with Gate.open(community.gate_home, clock=clock) as gate:
        with transaction(gate.db) as conn:
            photos.replace_photos(conn, {ROLES["resident"]: photo})
        checked = gate.check(Scan("in", token=community.tokens["resident"], temperature=36.5, lane="in")).event
    guard = create_app({"KIOSK_HOME": str(community.gate_home), "CLOCK": clock, "TESTING": True}).test_client()
    sign_on(guard)
    assert f"/screen/face-mismatch/{checked['id']}" in guard.get("/screen/").get_data(as_text=True)
    token = csrf_token(guard, "/actions/check")
    for _ in range(2):  # a double tap
        assert guard.post(f"/screen/face-mismatch/{checked['id']}", data={"csrf_token": token}).status_code == 302

    pulled = kiosk(office_with_gate, "office", "pull")
    assert pulled.returncode == 0, pulled.stderr

    with Office.open(office_with_gate) as office:
        [reported] = list(office.store.query("SELECT * FROM gate_events WHERE kind = 'face_check'"))
        inside = inside_now(office.store, ["jinan"]).get("jinan", {"persons": []})["persons"]
        assert checked["subject_id"] not in [row["subject_id"] for row in inside]  # stopped: not inside
        web_users.add_user(office.store, "duty-office", "office", "office-pass-2026", "office")
        stored = [path.read_bytes() for path in office.config.db_path.parent.glob(office.config.db_path.name + "*")]
    assert stored and not any(photo in data for data in stored)  # the pull brings no photo from the gate
    assert (json.loads(reported["codes"]), reported["pass_id"], reported["gate"]) == \
        (["face_mismatch"], community.pass_ids["resident"], "jinan-gate")
    when = reported["ts_local"][:16].replace("T", " ")

    office_page = create_app({"KIOSK_HOME": str(office_with_gate), "CLOCK": clock, "TESTING": True}).test_client()
    login = TOKEN.search(office_page.get("/login").get_data(as_text=True)).group(1)
    office_page.post("/login", data={"name": "duty-office", "password": "office-pass-2026", "csrf_token": login})
    alerts = office_page.get("/alerts?lang=en").get_data(as_text=True)
    row = re.search(rf'<tr class="open" id="alert-{reported["id"]}">.*?</tr>', alerts, re.S).group(0)
    row_text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)))
    assert f"{when} jinan-gate The face does not match the holder's photo: not this person's pass 36.5℃" in row_text

    shown = kiosk(office_with_gate, "office", "pass", "show", community.pass_ids["resident"])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.endswith(f"! face mismatch reported at jinan-gate {when}\n")
    listed = kiosk(office_with_gate, "office", "pass", "list", "--person", ROLES["resident"], "--json")
    assert [row["face_mismatches"] for row in json.loads(listed.stdout)] == [[{"gate": "jinan-gate", "time": when}]]
