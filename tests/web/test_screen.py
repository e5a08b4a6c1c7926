"""The guard screen, its status bar and the live stream."""

from __future__ import annotations

import socket

import requests

from kiosk.core.clock import utc_text
from kiosk.core.rules import Scan
from tests.conftest import NOW
from tests.servers import KioskServer
from tests.waiting import PATIENCE_S
from tests.web.conftest import TOKEN, sign_on
from web.lookup import mask_name
from web.screen import PING_SECONDS


def test_mask_name():
    assert [mask_name(n) for n in ("张晓明", "张丽", "欧阳娜娜", "Li", "Wang Wei", "", "张")] == \
        ["张*明", "张*", "欧*娜", "L*", "W*i", "", "张"]


def test_screen_shows_each_lane_latest_decision(client, gate, demo):
    sign_on(client)
    gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in"))
    gate.check(Scan("out", token=demo.tokens["isolated"], temperature=36.6, lane="out"))
    html = client.get("/screen/").get_data(as_text=True)
    assert 'class="lane allow with-photo" id="lane-in"' in html and "张*明" in html and "1-1-101" in html
    assert 'class="lane deny alarm with-photo" id="lane-out"' in html and "刘*" in html and "居家隔离人员，不得外出" in html
    assert "36.5℃" in html and "36.6℃" in html
    assert "张晓明" not in html  # never the full name


def test_fever_is_an_alarm_in_english_too(client, gate, demo):
    sign_on(client)
    gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.1, lane="in"))
    html = client.get("/screen/?lang=en").get_data(as_text=True)
    assert 'class="lane deny alarm with-photo" id="lane-in"' in html
    assert '<span class="outcome">Refused</span>' in html and '<div class="reasons">Fever</div>' in html
    assert '<html lang="en">' in html


def test_status_bar(client, gate):
    sign_on(client)
    gate.db["lane_status"].insert({"lane": "in", "camera": "ok", "thermometer": "error", "scanner": None,
                                   "detail": "", "updated_utc": utc_text(NOW)})
    gate.db["sync_state"].insert({"key": "office_last_contact_utc", "value": "2026-11-29T01:30:00.000Z",
                                  "updated_utc": utc_text(NOW)})
    html = client.get("/screen/status").get_data(as_text=True)
    assert "王建国" in html and "早班" in html and "本班 进0 出0 拒0" in html
    assert 'class="dev ok">✓ 摄像头' in html and 'class="dev error">✕ 测温' in html and 'class="dev unknown">? 摄像头' in html
    assert "名单 v1" in html and "已过期" not in html and "2026-11-29 09:30" in html and "时钟已同步" in html
    assert "剩余空间" in html


def test_status_bar_warns_about_an_old_registry_and_no_office_contact(client, clock):
    sign_on(client)
    clock.advance(hours=25)
    html = client.get("/screen/status").get_data(as_text=True)
    assert "已过期，请更新" in html and "（25 小时前）" in html and "从未" in html


def test_stream_sends_new_decisions_with_their_seq(client, gate, demo):
    sign_on(client)
    after = gate.db.conn.execute("SELECT max(seq) FROM events").fetchone()[0]
    event = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    body = client.get(f"/screen/stream?after={after}").get_data(as_text=True)
    assert body.startswith("retry: 1000\n\n")
    assert f"id: {event['seq']}\nevent: decision\n" in body and body.count("event: decision") == 1


def test_stream_resumes_from_last_event_id(client, gate, demo):
    sign_on(client)
    first = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    second = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=36.5, lane="in")).event
    body = client.get("/screen/stream", headers={"Last-Event-ID": str(first["seq"])}).get_data(as_text=True)
    assert f"id: {second['seq']}" in body and f"id: {first['seq']}\n" not in body


def test_stream_needs_a_viewer(client):
    assert client.get("/screen/stream").status_code == 302


def test_stream_ignores_a_cursor_it_cannot_use(client, gate, demo):
    sign_on(client)
    event = gate.check(Scan("in", token=demo.tokens["resident"], temperature=36.5, lane="in")).event
    assert f"id: {event['seq']}\n" in client.get("/screen/stream?after=²").get_data(as_text=True)
    body = client.get("/screen/stream", headers={"Last-Event-ID": str(10**30)}).get_data(as_text=True)
    assert body == "retry: 1000\n\n"  # beyond any seq: nothing newer, and no error


def test_a_screen_that_goes_away_frees_its_server_thread_at_once(demo, tmp_path):
    """With one worker thread: a closed stream must not hold it until the next ping (10 s)."""
    with KioskServer(demo.gate_home, tmp_path / "serve.log", args=("--threads", "1")) as server:
        session = requests.Session()
        token = TOKEN.search(session.get(server.url + "/sign-on", timeout=PATIENCE_S).text).group(1)
        form = {"guard_id": "G001", "pin": "1234", "lane": "in", "csrf_token": token}
        assert session.post(server.url + "/sign-on", data=form, allow_redirects=False, timeout=PATIENCE_S).status_code == 302
        with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE_S) as stream:
            stream.sendall(f"GET /screen/stream HTTP/1.1\r\nHost: kiosk\r\n"
                           f"Cookie: session={session.cookies['session']}\r\n\r\n".encode())
            received = b""
            while b"retry: 1000" not in received:
                received += stream.recv(4096)
        assert requests.get(server.url + "/api/v1/health", timeout=PING_SECONDS - 2).status_code == 200
