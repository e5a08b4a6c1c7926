"""Issue 14: an anonymous device on the LAN, a hostile or spoofed gate, a stolen cookie, a full disk.

One test (or a few) per item of the issue, each failing on the code before the fix. Most go
through the Flask test client and library calls; real HTTP (``kiosk serve``) only where the
server itself is under test (body limits) or the office talks to a gate (pulls), with one
server for the module; a hostile gate is a small http.server in a thread.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import sqlite3
import threading
import zipfile
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from kiosk.cli.root import cli
from kiosk.core.clock import utc_text
from kiosk.core.rules import Scan
from kiosk.gate import sync_feed
from kiosk.gate.service import Gate
from kiosk.office import pull, usb_import
from kiosk.office.ledger_table import LedgerError, read_table
from kiosk.office.service import Office
from kiosk.sim.demo import SUPERVISOR, create_demo
from kiosk.store import guards, registry, tokens, web_users
from kiosk.store.config import ConfigError
from kiosk.store.guards import GuardError
from kiosk.store.keys import load_signing_key
from tests.conftest import NOW
from tests.servers import KioskServer
from tests.sync.sync_helpers import kiosk
from tests.waiting import PATIENCE_S
from tests.web.conftest import OFFICE_PASSWORD, OFFICE_USER, csrf_token, office_login, post, sign_on
from web import MAX_BODY_BYTES, create_app
from web.auth import RateLimiter

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def lan(demo_template, tmp_path_factory):
    """One demo community whose gate serves real HTTP for the module, and an office token."""
    root = tmp_path_factory.mktemp("lan")
    community = create_demo(shutil.copytree(demo_template(NOW), root / "demo"), NOW)
    with Gate.open(community.gate_home) as gate:
        token = tokens.create_token(gate.db, "office", "office", NOW)[1]
        for _ in range(3):
            gate.record("manual_open", NOW, lane="in")
    server = KioskServer(community.gate_home, root / "server.log").start()
    yield community, server, token
    server.stop()


def gate_db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "gate.db")


# --- 1. bounded limiter state ----------------------------------------------------------

def test_the_limiter_keeps_a_bounded_number_of_short_keys_whatever_the_ids():
    limiter = RateLimiter()
    for number in range(RateLimiter.MAX_KEYS + 1000):
        limiter.reserve({f"guard:{number:06d}" + "x" * 10_000: [(10, 600)]}, now=float(number))
    assert len(limiter.failures) == RateLimiter.MAX_KEYS
    assert {len(key) for key in limiter.failures} == {16}


def test_sign_ons_with_huge_new_ids_leave_only_short_keys(app, client):
    token = csrf_token(client, "/sign-on")
    for number in range(3):
        response = client.post("/sign-on", data={"guard_id": f"{number}" + "x" * 100_000, "pin": "0000",
                                                 "lane": "in", "csrf_token": token})
        assert response.status_code == 401
    keys = app.extensions["signon_limiter"].failures
    assert len(keys) == 7 and {len(key) for key in keys} == {16}  # one address, 3 ids, 3 id-and-address pairs


# --- 2. request body limits -------------------------------------------------------------

def test_flask_refuses_a_body_larger_than_the_largest_bundle(client, gate):
    secret = tokens.create_token(gate.db, "office", "o", NOW)[1]
    response = client.put("/api/v1/registry", data=b"x" * (MAX_BODY_BYTES + 1),
                          headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 413


def test_the_server_refuses_a_large_body_before_reading_it(lan):
    _, server, _ = lan
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE_S) as sock:
        sock.sendall(b"PUT /api/v1/registry HTTP/1.1\r\nHost: gate\r\n"
                     b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1))
        answer = sock.recv(4096)  # nothing of the body was sent: the server must not wait for it
    assert answer.startswith(b"HTTP/1.1 413")


# --- 3. no trust on first use for USB exports --------------------------------------------

def test_an_export_for_a_gate_without_a_pinned_key_is_refused(community, tmp_path):
    out = tmp_path / "x.events"
    assert kiosk(community.gate_home, "export", "--out", str(out)).returncode == 0
    with Office.open(community.office_home) as office:
        pull.add_gate(office, "jinan-gate", "", "")
        with pytest.raises(usb_import.SyncError) as refused:
            usb_import.import_events(office, out)
        assert refused.value.code == "export_key_not_pinned"
        assert office.db["gate_events"].count == 0
        assert pull.get_gate(office, "jinan-gate")["export_key"] is None


def test_adding_a_gate_over_the_lan_pins_its_export_key(lan, tmp_path):
    community, server, token = lan
    office_home = shutil.copytree(community.office_home, tmp_path / "office")
    added = kiosk(office_home, "office", "gate", "add", "jinan-gate", "--url", server.url, "--token", token)
    assert added.returncode == 0, added.stderr
    assert "export key is pinned" in added.stdout
    with Office.open(office_home) as office:
        pinned = pull.get_gate(office, "jinan-gate")["export_key"]
    assert pinned == kiosk(community.gate_home, "export-key").stdout.strip()


# --- 4. one hostile gate does not stop the pull --------------------------------------------

HEALTH = {"status": "ok", "site_id": "jinan", "clock_utc": utc_text(NOW), "lowest_seq": 1}
HOSTILE = {
    "null-seq": {"/api/v1/health": json.dumps({**HEALTH, "gate_id": "h1", "last_seq": None}).encode()},
    "list-id": {"/api/v1/health": json.dumps({**HEALTH, "gate_id": ["h2"], "last_seq": 1}).encode()},
    "nested": {"/api/v1/health": DEEP},
    "list-line": {"/api/v1/health": json.dumps({**HEALTH, "gate_id": "h4", "last_seq": 1}).encode(),
                  "/api/v1/events": b"[1, 2]\n"},
}


class HostileGate(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        scenario, _, path = self.path.partition("?")[0].lstrip("/").partition("/")
        body = HOSTILE.get(scenario, {}).get("/" + path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_gate():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileGate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_malformed_answers_fail_that_gate_only(lan, hostile_gate, tmp_path):
    community, server, token = lan
    office_home = shutil.copytree(community.office_home, tmp_path / "office")
    with Office.open(office_home) as office:
        for scenario in HOSTILE:
            pull.add_gate(office, f"a-{scenario}", f"{hostile_gate}/{scenario}", "t")
        pull.add_gate(office, "z-good", server.url, token)
    result = kiosk(office_home, "office", "pull")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    for scenario in HOSTILE:
        assert f"a-{scenario}" in result.stderr and "[bad_answer]" in result.stderr
    with Office.open(office_home) as office:
        good = pull.get_gate(office, "z-good")
        assert (good["last_seq"], good["chain_broken"]) == (3, None)
        problems = {name: pull.pull_gate(office, name, lambda: NOW).problem for name in
                    (f"a-{scenario}" for scenario in HOSTILE)}
    assert all(problem.startswith("[bad_answer] malformed answer from the gate") for problem in problems.values())


# --- 5. server-side sessions -----------------------------------------------------------------

def replay(client, cookie: str):
    client.set_cookie("session", cookie)
    return client.get("/office/events")


def test_an_office_cookie_dies_at_logout(client):
    assert office_login(client).status_code == 302
    cookie = client.get_cookie("session").value
    assert client.get("/office/events").status_code == 200
    assert post(client, "/logout", {}, form_url="/office/events").status_code == 302
    assert replay(client, cookie).status_code == 302  # to the login page


def test_an_office_session_expires_after_a_working_day(client, clock):
    office_login(client)
    clock.advance(hours=12)
    assert client.get("/office/events").status_code == 302


def test_an_office_cookie_dies_with_its_user(client, gate):
    office_login(client)
    assert client.get("/office/events").status_code == 200
    web_users.remove_user(gate.db, OFFICE_USER)
    assert client.get("/office/events").status_code == 302


def test_an_old_guard_cookie_stays_dead_after_the_guard_signs_on_again(app, client):
    sign_on(client)
    cookie = client.get_cookie("session").value
    assert post(client, "/sign-off", {"pin": "1234", "note": ""}).status_code == 302
    other = app.test_client()
    assert sign_on(other).status_code == 302  # the same guard, another browser
    client.set_cookie("session", cookie)
    assert client.get("/screen/").status_code == 302


def test_login_gives_a_new_csrf_token(client):
    form_token = csrf_token(client, "/login")
    with client.session_transaction() as session:
        before = session["csrf_token"]
    client.post("/login", data={"name": OFFICE_USER, "password": OFFICE_PASSWORD, "csrf_token": form_token})
    csrf_token(client, "/office/events")
    with client.session_transaction() as session:
        assert session["csrf_token"] != before


# --- 6. verify-log checks the anchor ---------------------------------------------------------

def forge(home: Path, delete_through: int, anchor: tuple[int, str]) -> None:
    """What someone with the SD card does: drop the trigger, delete, move the anchor."""
    conn = gate_db(home)
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DELETE FROM events WHERE seq <= ?", [delete_through])
    conn.execute("INSERT OR REPLACE INTO chain_anchor VALUES (1, ?, ?)", list(anchor))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("delete_through, anchor_at", [(5, 5), (3, 3)],
                         ids=["everything deleted, anchor at the head", "unacknowledged events deleted, anchor forged"])
def test_verify_log_refuses_an_anchor_beyond_the_acknowledgement(community, delete_through, anchor_at):
    with Gate.open(community.gate_home) as gate:
        recorded = [gate.record("manual_open", NOW, lane="in") for _ in range(5)]
        sync_feed.acknowledge(gate.db, 1, recorded[0]["hash"], NOW, retention_days=30)
    assert recorded[-1]["seq"] == 5
    forge(community.gate_home, delete_through, (anchor_at, recorded[anchor_at - 1]["hash"]))
    result = CliRunner().invoke(cli, ["--home", str(community.gate_home), "--lang", "en", "verify-log"])
    assert result.exit_code == 1
    assert "runs ahead of what the office acknowledged (seq 1)" in result.output


# --- 7. JSON depth before parsing --------------------------------------------------------------

def test_deep_json_is_a_400_on_the_api(client, gate):
    secret = tokens.create_token(gate.db, "office", "o", NOW)[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.put("/api/v1/registry", data=DEEP, headers=headers).status_code == 400
    assert client.post("/api/v1/ack", data=DEEP, headers={**headers, "Content-Type": "application/json"}
                       ).status_code == 400


def test_deep_json_in_files_is_refused_cleanly(community, tmp_path):
    bundle = tmp_path / "deep.bundle"
    bundle.write_bytes(DEEP)
    with Gate.open(community.gate_home) as gate, pytest.raises(registry.BundleError) as refused:
        registry.load_bundle_file(gate.db, bundle, "jinan", NOW)
    assert refused.value.code == "malformed"
    export = tmp_path / "deep.events"
    export.write_bytes(DEEP + b"\n" + DEEP + b"\n")
    with Office.open(community.office_home) as office, pytest.raises(usb_import.SyncError) as refused:
        usb_import.import_events(office, export)
    assert refused.value.code == "malformed"


def test_an_xlsx_entity_bomb_is_refused(tmp_path):
    plain = tmp_path / "plain.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["id", "name"])
    book.save(plain)
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(bomb, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = (laughs + data.decode().replace("<t>name</t>", "<t>&lol2;</t>")).encode()
            out.writestr(name, data)
    assert openpyxl.xml.DEFUSEDXML  # openpyxl parses through defusedxml (a dependency)
    with pytest.raises(LedgerError) as refused:
        read_table(bomb)
    assert refused.value.code == "unreadable"


# --- 8. the office key, by content, at every entry point ---------------------------------------

def office_key(community):
    return load_signing_key(community.office_home / "keys" / "signing.key")


def der(key) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("content", [
    lambda key: b"# notes\n" * 700 + der_pem(key),  # a PEM over 4 KiB
    der,
    lambda key: base64.b64encode(der(key)),
    lambda key: der(key).hex().encode(),
], ids=["pem-over-4k", "der", "base64", "hex"])
def test_the_office_key_is_found_in_any_encoding(community, content):
    (community.gate_home / "backup.bin").write_bytes(content(office_key(community)))
    with pytest.raises(ConfigError, match="must never hold it"):
        Gate.open(community.gate_home)


def der_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_the_web_app_refuses_a_gate_folder_holding_the_office_key(community):
    (community.gate_home / "office.der").write_bytes(der(office_key(community)))
    with pytest.raises(ConfigError, match="must never hold it"):
        create_app({"KIOSK_HOME": str(community.gate_home), "TESTING": True})
    served = kiosk(community.gate_home, "serve", "--port", "1")  # refused before it binds anything
    assert served.returncode == 1 and "must never hold it" in served.stderr


# --- 9. lockout: enumeration-safe, not held forever, 6-digit supervisor PINs, recorded ---------

def statuses(client, guard_id: str, count: int = 6) -> list[int]:
    token = csrf_token(client, "/sign-on")
    return [client.post("/sign-on", data={"guard_id": guard_id, "pin": "0000", "lane": "in",
                                          "csrf_token": token}).status_code for _ in range(count)]


def test_unknown_ids_lock_like_real_ones(app):
    app.config["SIGNON_LIMIT"] = (1000, 600)  # the per-address limit is not under test here
    assert statuses(app.test_client(), "G001") == statuses(app.test_client(), "NOBODY") == [401] * 4 + [423] * 2


def test_one_address_cannot_keep_a_supervisor_locked_out(app, gate, clock):
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "192.168.1.66"
    assert statuses(attacker, SUPERVISOR[0], 5) == [401] * 4 + [423]
    clock.advance(minutes=6)  # the id's lockout is over; the attacker's address gets one more try in 10 minutes
    assert statuses(attacker, SUPERVISOR[0], 5) == [401] + [423] * 4
    assert sign_on(app.test_client(), SUPERVISOR[0], pin=SUPERVISOR[2]).status_code == 302
    failures = [json.loads(row[0]) for row in
                gate.db.conn.execute("SELECT data FROM events WHERE kind = 'login_failed' ORDER BY seq")]
    assert [failure["code"] for failure in failures] == ["wrong_pin"] * 4 + ["locked", "wrong_pin"]  # held back: not checked
    assert failures[4] == {"who": "guard:s001", "source": "192.168.1.66", "code": "locked"}  # ids are case-insensitive


def test_failed_attempts_are_shown_on_the_office_pages(app, client):
    assert statuses(app.test_client(), "G001", 1) == [401]
    office_login(client)
    page = client.get("/office/events").get_data(as_text=True)
    assert page.count("登录失败") == 1


def test_the_supervisor_unlocks_a_guard(gate, clock):
    for _ in range(guards.MAX_FAILURES):
        with pytest.raises(GuardError):
            guards.authenticate(gate.db, "G001", "0000", clock.now())
    with pytest.raises(GuardError, match="locked"):
        guards.authenticate(gate.db, "G001", "1234", clock.now())
    result = CliRunner().invoke(cli, ["--home", str(gate.config.home), "guard", "unlock", "G001"])
    assert result.exit_code == 0, result.output
    assert guards.authenticate(gate.db, "G001", "1234", clock.now()).id == "G001"


def test_supervisor_pins_have_six_digits_and_old_short_ones_approve_nothing(gate, clock, community):
    with pytest.raises(GuardError) as refused:
        guards.add_guard(gate.db, "S002", "赵敏", "1234", role="supervisor")
    assert refused.value.code == "bad_pin_format"
    gate.db.conn.execute("INSERT INTO guards (id, name, role, pin_hash) VALUES ('S009', '老主管', 'supervisor', ?)",
                         [guards.hash_pin("4321")])  # set before the rule
    gate.sign_on("G001", "1234", "in", clock.now())
    refused_event = gate.check(Scan(direction="in", token=community.tokens["resident"], temperature=37.6, lane="in"),
                               clock.now()).event  # fever: a supervisor's approval
    with pytest.raises(GuardError) as short:
        gate.override(refused_event["id"], "G001", "就医", clock.now(), "S009", "4321")
    assert short.value.code == "supervisor_pin_too_short"
    guards.set_pin(gate.db, "S009", "864209")
    assert gate.override(refused_event["id"], "G001", "就医", clock.now(), "S009", "864209")["kind"] == "override"


# --- 10. reads never need a write --------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs: needs root (CI runs as root)")
def test_the_office_can_read_a_full_gate(tmp_path):
    from tests.resilience.test_full_disk import fill

    mount_point = tmp_path / "small"
    mount_point.mkdir()
    os.system(f"mount -t tmpfs -o size=3m,mode=0700 tmpfs {mount_point}")
    try:
        community = create_demo(mount_point / "demo", NOW)
        with Gate.open(community.gate_home) as gate:
            secret = tokens.create_token(gate.db, "office", "office", NOW)[1]
        lane = gate_db(community.gate_home)  # a lane process keeps the log open (and its WAL in place)
        lane.execute("PRAGMA journal_mode=WAL")
        fill(mount_point / "filler")
        try:
            with pytest.raises(sqlite3.OperationalError):  # disk full, or an I/O error on tmpfs
                for number in range(100_000):  # until the WAL has no room left either
                    lane.execute("INSERT INTO sync_state VALUES (?, ?, ?)", [f"fill{number}", "x" * 4000, "t"])
                    lane.commit()
            client = create_app({"KIOSK_HOME": str(community.gate_home), "TESTING": True}).test_client()
            headers = {"Authorization": f"Bearer {secret}"}
            assert client.get("/api/v1/health", headers=headers).status_code == 200
            assert client.get("/api/v1/events?since=0", headers=headers).status_code == 200
        finally:
            lane.close()
    finally:
        if os.system(f"umount {mount_point}") != 0:
            os.system(f"umount -l {mount_point}")


# --- 11. headers, file modes, re-verification --------------------------------------------------

def test_every_answer_carries_the_security_headers(client):
    office_login(client)
    for path in ("/login", "/office/events", "/office/events.csv", "/api/v1/health"):
        headers = client.get(path).headers
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"],
                headers["Cache-Control"]) == ("DENY", "nosniff", "same-origin", "no-store")


INLINE = re.compile(r"""<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:""", re.IGNORECASE)


def test_no_template_needs_unsafe_inline():
    """The CSP forbids inline script, style and handlers: a template with one would break under it."""
    templates = sorted((Path(__file__).resolve().parents[2] / "web" / "templates").glob("**/*.html"))
    assert len(templates) > 10
    assert {path.name: INLINE.findall(path.read_text(encoding="utf-8")) for path in templates
            if INLINE.search(path.read_text(encoding="utf-8"))} == {}


def test_exports_bundles_and_passes_are_written_0600(community, tmp_path):
    umask = os.umask(0o022)
    try:
        assert kiosk(community.gate_home, "export", "--out", str(tmp_path / "x.events")).returncode == 0
        assert kiosk(community.office_home, "office", "bundle", "--site", "jinan",
                     "--out", str(tmp_path / "r.bundle")).returncode == 0
        assert kiosk(community.office_home, "office", "issue", "--site", "jinan", "--person", "R001",
                     "--out", str(tmp_path / "passes")).returncode == 0  # R001 holds a pass: only tokens.tsv
        assert kiosk(community.office_home, "office", "pass", "reissue", "--site", "jinan", "--person", "R001",
                     "--out", str(tmp_path / "passes")).returncode == 0  # the new pass's image
    finally:
        os.umask(umask)
    written = [tmp_path / "x.events", tmp_path / "r.bundle", tmp_path / "passes" / "tokens.tsv",
               *(tmp_path / "passes").glob("*.png")]
    assert len(written) == 4
    assert {path.name: path.stat().st_mode & 0o777 for path in written} == {path.name: 0o600 for path in written}


def test_the_office_notices_an_edit_of_an_event_it_already_holds(lan, tmp_path):
    """Last in the module: it edits the shared gate's log."""
    community, server, token = lan
    office_home = shutil.copytree(community.office_home, tmp_path / "office")
    with Office.open(office_home) as office:
        pull.add_gate(office, "jinan-gate", server.url, token)
        first = pull.pull_gate(office, "jinan-gate", lambda: NOW)
        assert first.ok and first.new_events >= 3, first.problem
        conn = gate_db(community.gate_home)
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET lane = 'out' WHERE seq = 2")  # the hash column left as it was
        conn.commit()
        conn.close()
        second = pull.pull_gate(office, "jinan-gate", lambda: NOW + timedelta(minutes=5))
    assert second.broken and "events 1..3 on the gate differ" in second.problem
