"""Issue 17 part 2 on the gate: the holder's photo beside the decision and the one-tap "face does not match".

In-process Flask client on the demo community with real JPEGs (drawn with OpenCV) put into the
gate's database the way the bundle does (kiosk.store.photos.replace_photos); the layout is
measured in Chromium (tests/web/test_screen_layout.py), the office's side after a real pull in
tests/sync/test_face_mismatch.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import cv2
import numpy as np
import pytest

from kiosk.core.rules import Scan
from kiosk.gate import usb_export
from kiosk.gate.service import Gate
from kiosk.sim.demo import ROLES
from kiosk.store import photos
from kiosk.store.db import transaction
from kiosk.store.guards import GuardError
from tests.web.conftest import csrf_token, office_login, post, sign_on


def portrait(shade: int) -> bytes:
    """A 160x200 JPEG thumbnail as the office makes them: a drawn head and shoulders."""
    image = np.full((200, 160, 3), (shade, 200, 220), np.uint8)
    cv2.ellipse(image, (80, 90), (42, 54), 0, 0, 360, (150, 180, 215), -1)
    cv2.ellipse(image, (80, 210), (75, 60), 0, 180, 360, (90, 60, 40), -1)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def put_photos(gate: Gate, by_person: dict[str, bytes]) -> None:
    with transaction(gate.db) as conn:
        photos.replace_photos(conn, by_person)


def face_checks(gate: Gate) -> list[dict]:
    return list(gate.db.query("SELECT * FROM events WHERE kind = 'face_check' ORDER BY seq"))


def lane_html(html: str, lane: str) -> str:
    start = html.rindex("<section", 0, html.index(f'id="lane-{lane}"'))
    return html[start:html.index("</section>", start)]


@pytest.fixture
def photo(gate) -> bytes:
    jpeg = portrait(120)
    put_photos(gate, {ROLES["resident"]: jpeg})
    return jpeg


def test_the_holders_photo_is_shown_beside_the_decision_and_served_privately(client, gate, demo, photo):
    sign_on(client)
    event = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    gate.check(Scan("out", token=demo.tokens["second_resident"], temperature=36.6, lane="out"))
    html = client.get("/screen/").get_data(as_text=True)
    entry, exit_ = lane_html(html, "in"), lane_html(html, "out")
    assert 'class="lane allow with-photo"' in html
    assert f'<img src="/screen/photo/{event["id"]}" alt="张*明的登记照片">' in entry
    assert f'action="/screen/face-mismatch/{event["id"]}"' in entry and ">人脸不符</button>" in entry
    assert '<span class="no-photo">无照片</span>' in exit_ and "<img" not in exit_ and "face-mismatch" not in exit_
    assert "No photo on file" in client.get("/screen/?lang=en").get_data(as_text=True)

    served = client.get(f"/screen/photo/{event['id']}")
    digest = hashlib.sha256(photo).hexdigest()
    assert (served.status_code, served.mimetype, served.get_data()) == (200, "image/jpeg", photo)
    assert served.headers["Cache-Control"] == "private, no-cache"
    assert served.headers["ETag"] == f'"{digest}"' == f'"{photos.photo_digest(gate.db, ROLES["resident"])}"'
    again = client.get(f"/screen/photo/{event['id']}", headers={"If-None-Match": f'"{digest}"'})
    assert (again.status_code, again.get_data()) == (304, b"")


def test_only_a_signed_on_guards_screen_gets_a_photo(app, client, gate, demo, photo):
    event = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    url = f"/screen/photo/{event['id']}"
    nobody = client.get(url)
    assert nobody.status_code == 302 and nobody.headers["Location"].startswith("/sign-on")
    office = app.test_client()
    assert office_login(office).status_code == 302
    assert office.get("/screen/").status_code == 200  # the office may watch the screen ...
    viewer = office.get(url)
    assert viewer.status_code == 302 and photo not in viewer.get_data()  # ... but not the photos
    assert "<img" not in lane_html(office.get("/screen/").get_data(as_text=True), "in")
    sign_on(client)
    assert client.get(url).get_data() == photo
    unreadable = gate.check(Scan("in", token="not a pass", lane="in")).event
    assert client.get(f"/screen/photo/{unreadable['id']}").status_code == 404  # no person, no photo
    assert client.get("/screen/photo/no-such-event").status_code == 404


def test_a_vehicle_passage_shows_the_drivers_photo(client, gate, demo):
    put_photos(gate, {ROLES["second_resident"]: portrait(60)})
    sign_on(client)
    post(client, "/actions/vehicle", {"plate": "陕H12345", "driver": demo.pass_ids["second_resident"], "lane": "in",
                                      "driver_temperature": "36.5", "disinfected": "yes"})
    [passage] = list(gate.db.query("SELECT * FROM events WHERE plate = '陕H12345'"))
    card = lane_html(client.get("/screen/").get_data(as_text=True), "in")
    assert f'<img src="/screen/photo/{passage["id"]}"' in card
    assert client.get(f"/screen/photo/{passage['id']}").get_data() == portrait(60)


def test_one_tap_records_one_face_mismatch_refusal_that_cannot_be_overridden(client, gate, demo, photo):
    sign_on(client)
    checked = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    url = f"/screen/face-mismatch/{checked['id']}"
    assert client.post(url).status_code == 400  # no CSRF token: nothing recorded
    assert face_checks(gate) == []
    token = csrf_token(client, "/actions/check")
    first = client.post(url, data={"csrf_token": token})
    second = client.post(url, data={"csrf_token": token})  # the double tap
    assert (first.status_code, first.headers["Location"]) == (second.status_code, second.headers["Location"]) \
        == (302, "/screen/")
    [refusal] = face_checks(gate)
    assert (refusal["outcome"], json.loads(refusal["codes"]), refusal["lane"], refusal["direction"]) == \
        ("deny", ["face_mismatch"], "in", "in")
    assert (refusal["pass_id"], refusal["subject_id"], refusal["guard_id"]) == \
        (checked["pass_id"], ROLES["resident"], "G001")
    assert json.loads(refusal["data"]) == {"face_check_of": checked["id"], "checked_outcome": "allow"}

    html = client.get("/screen/").get_data(as_text=True)
    card = lane_html(html, "in")
    assert 'class="lane deny alarm with-photo"' in card and "人脸核对" in card
    assert "人脸与登记照片不符，非本人通行证" in card and f'src="/screen/photo/{refusal["id"]}"' in card
    assert "face-mismatch" not in card and "/actions/override/" not in card  # reported once, never overridden
    assert re.search(r'class="what">\d\d:\d\d 张\*明 · 人脸与照片不符', html)  # the alarm strip, until acknowledged
    with pytest.raises(GuardError, match="may not be overridden"):
        gate.override(refusal["id"], "G001", "认错了", gate.now())


def test_only_a_check_of_a_persons_pass_can_be_reported(client, gate, demo):
    sign_on(client)
    unreadable = gate.check(Scan("in", token="not a pass", lane="in")).event
    token = csrf_token(client, "/actions/check")
    assert client.post(f"/screen/face-mismatch/{unreadable['id']}", data={"csrf_token": token}).status_code == 404
    assert client.post("/screen/face-mismatch/no-such-event", data={"csrf_token": token}).status_code == 404
    assert face_checks(gate) == []
    signed_off = client.application.test_client()
    checked = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    assert signed_off.post(f"/screen/face-mismatch/{checked['id']}").status_code in (400, 401)
    assert face_checks(gate) == []


def test_no_export_carries_a_photo(client, gate, demo, photo, tmp_path):
    """The USB export (the office's copy of the log) holds the refusal but never the photo."""
    sign_on(client)
    checked = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    client.post(f"/screen/face-mismatch/{checked['id']}", data={"csrf_token": csrf_token(client, "/actions/check")})
    usb_export.export_events(gate, 0, tmp_path / "events.kiosk", gate.now())
    exported = (tmp_path / "events.kiosk").read_bytes()
    assert b"face_mismatch" in exported and checked["id"].encode() in exported
    assert photo not in exported and base64.b64encode(photo)[:200] not in exported and photo.hex()[:200].encode() \
        not in exported


def test_an_override_card_shows_the_photo_too_but_offers_no_face_report(client, gate, demo, photo):
    sign_on(client)
    fever = gate.check(Scan("in", token=demo.tokens["resident"], temperature=38.6, lane="in")).event
    override = gate.override(fever["id"], "G001", "复测正常", gate.now(), "S001", "999999")
    card = lane_html(client.get("/screen/").get_data(as_text=True), "in")
    assert f'<img src="/screen/photo/{override["id"]}"' in card and "face-mismatch" not in card
    assert client.get(f"/screen/photo/{override['id']}").get_data() == photo
    token = csrf_token(client, "/actions/check")
    assert client.post(f"/screen/face-mismatch/{override['id']}", data={"csrf_token": token}).status_code == 404


def test_the_live_stream_brings_the_photo_and_the_face_report_with_the_decision(client, gate, demo, photo):
    sign_on(client)
    checked = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    stream = client.get(f"/screen/stream?after={checked['seq'] - 1}").get_data(as_text=True)
    [data] = [json.loads(line[len("data: "):]) for line in stream.splitlines() if line.startswith("data: ")]
    assert f'<img src="/screen/photo/{checked["id"]}"' in data["html"]
    assert re.search(rf'action="/screen/face-mismatch/{checked["id"]}">\s*<input type="hidden" name="csrf_token" '
                     r'value="[^"]{20,}">', data["html"])
