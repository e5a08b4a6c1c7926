"""TLS between gate and office: the gate's own certificate, pinned by the office (issue 14).

A real ``kiosk serve`` process (tests/servers.py) serves plain HTTP on 127.0.0.1 (the
touchscreen) and HTTPS on ANOTHER address of this machine: its own LAN address (the source
address the kernel picks towards a TEST-NET address; no packet is sent), so a request to it
goes through the network stack as one from the LAN would, only without leaving the machine.
A machine with no address but loopback falls back to 127.0.0.2, which is still a different
address from the plain listener's (a socket bound to 127.0.0.1 does not answer on it), though
no longer one that could reach the LAN. The office runs in this process through its CLI.
"""

from __future__ import annotations

import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core.transport import shown
from kiosk.gate.service import Gate
from kiosk.office import pinning, pull
from kiosk.office.service import Office
from kiosk.sim.demo import DemoCommunity, create_demo
from kiosk.store import tls, tokens
from kiosk.store.config import load_config
from tests.conftest import NOW
from tests.servers import KioskServer, free_port
from tests.waiting import PATIENCE_S
from tests.web.test_screen import TOKEN as CSRF


def other_address() -> str:
    """This machine's LAN address, else 127.0.0.2 (see the module's docstring)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP "connect" only chooses the route: nothing is sent
            address = probe.getsockname()[0]
        except OSError:  # no route at all
            return "127.0.0.2"
    return "127.0.0.2" if address.startswith("127.") else address


OTHER = other_address()


@dataclass
class Lan:
    community: DemoCommunity
    server: KioskServer
    token: str


@pytest.fixture(scope="module")
def lan(demo_template, tmp_path_factory):
    """One gate serving HTTPS on the other address, and its office (each test pins what it needs)."""
    root = shutil.copytree(demo_template(NOW), tmp_path_factory.mktemp("tls") / "demo")
    community = create_demo(root, NOW)
    server = KioskServer(community.gate_home, root / "serve.log", tls_host=OTHER).start()
    yield Lan(community, server, new_token(community.gate_home))
    server.stop()


def new_token(gate_home: Path, name: str = "office") -> str:
    with Gate.open(gate_home) as gate:
        return tokens.create_token(gate.db, "office", name, NOW)[1]


def last_used(gate_home: Path, name: str) -> str | None:
    with Gate.open(gate_home) as gate:
        return next(row["last_used_at"] for row in tokens.list_tokens(gate.db) if row["name"] == name)


def add_gate(office_home: Path, url: str, token: str, fingerprint: str) -> None:
    with Office.open(office_home) as office:
        pull.add_gate(office, "jinan-gate", url, token)
        pinning.pin(office, "jinan-gate", fingerprint)


def kiosk(home: Path, *args: str):
    return CliRunner().invoke(cli, ["--lang", "en", "--home", str(home), *args])


def test_the_pinned_gate_is_pulled_over_https(lan):
    add_gate(lan.community.office_home, lan.server.tls_url, lan.token, lan.server.fingerprint)
    result = kiosk(lan.community.office_home, "office", "pull", "--verbose")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("jinan-gate: 0 new events")


def test_a_wrong_fingerprint_is_refused_before_the_token_is_sent(lan):
    token = new_token(lan.community.gate_home, "never-sent")
    wrong = "ab" * 32  # what a device answering at the gate's address would present instead
    add_gate(lan.community.office_home, lan.server.tls_url, token, wrong)
    result = kiosk(lan.community.office_home, "office", "pull")
    assert result.exit_code == 1
    assert result.stderr == (f"jinan-gate: [tls_pin_mismatch] {OTHER}:{lan.server.tls_port} presents certificate "
                             f"{shown(lan.server.fingerprint)}, not the pinned {shown(wrong)}: not the gate, or its "
                             f"certificate was rotated (check `kiosk tls show` on the gate, then "
                             f"`kiosk office gate pin`)\n")
    push = kiosk(lan.community.office_home, "office", "push")
    assert push.exit_code == 1 and push.stderr.startswith("jinan-gate: [tls_pin_mismatch]")
    assert last_used(lan.community.gate_home, "never-sent") is None  # the gate never saw this token


def test_plain_http_is_refused_from_another_address(lan):
    plain = raw_get(OTHER, lan.server.tls_port, lan.token)  # plain HTTP to the HTTPS listener
    assert plain in (b"", HTTPS_ONLY), plain  # cut, or cheroot's 400 when it arrives before the reset
    with pytest.raises(ConnectionRefusedError):  # the touchscreen's plain listener is not on this address
        socket.create_connection((OTHER, lan.server.port), timeout=PATIENCE_S)
    assert raw_get("127.0.0.1", lan.server.port, lan.token).startswith(b"HTTP/1.1 200 OK\r\n")  # loopback: yes


HTTPS_ONLY = (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 84\r\nContent-Type: text/plain\r\n\r\n"
              b"The client sent a plain HTTP request, but this server only speaks HTTPS on this port.")


def raw_get(host: str, port: int, token: str) -> bytes:
    """A plain-HTTP request for the events, carrying the token, and everything that came back."""
    received = b""
    with socket.create_connection((host, port), timeout=PATIENCE_S) as sock:
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                     f"Connection: close\r\n\r\n".encode())
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # cheroot closes with the request unread
            pass
    return received


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::"])
def test_serve_refuses_plain_http_off_loopback(lan, host):
    result = kiosk(lan.community.gate_home, "serve", "--host", host, "--port", str(free_port()))
    assert result.exit_code == 1
    assert result.output == ("Error: [plain_http_off_loopback] plain HTTP is served on loopback only; the LAN "
                             f"gets HTTPS (--tls-host) (plain HTTP is served on loopback only, not on {host!r})\n")


def test_the_office_never_sends_a_token_in_clear_over_the_lan(lan):
    office_home = lan.community.office_home
    add_gate(office_home, lan.server.tls_url, lan.token, lan.server.fingerprint)
    url = f"http://{OTHER}:{lan.server.port}"
    added = kiosk(office_home, "office", "gate", "add", "lan-gate", "--url", url, "--token", lan.token)
    assert added.exit_code == 1 and "[plain_http_lan]" in added.output
    unpinned = kiosk(office_home, "office", "gate", "add", "lan-gate", "--url", lan.server.tls_url, "--token", "x")
    assert unpinned.exit_code == 1 and "[not_pinned]" in unpinned.output
    with socket.create_server((OTHER, 0)) as listener:  # an address from before TLS, still in the office's table
        listener.setblocking(False)
        with Office.open(office_home) as office:
            port = listener.getsockname()[1]
            pull.add_gate(office, "old-gate", f"http://{OTHER}:{port}", lan.token)
        result = kiosk(office_home, "office", "pull")
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
        with Office.open(office_home) as office:
            office.db.conn.execute("DELETE FROM gates WHERE name = 'old-gate'")
    assert result.exit_code == 1
    assert result.stderr == (f"old-gate: [plain_http_lan] http://{OTHER}:{port}: a gate on the LAN is reached "
                             f"over https:// only (plain http:// only to this machine's loopback)\n")  # jinan-gate: fine


def test_the_session_cookie_is_secure_over_tls_only(lan):
    with pinning.pinned_session({"url": lan.server.tls_url, "tls_fingerprint": lan.server.fingerprint}) as https:
        page = https.get(lan.server.tls_url + "/sign-on", timeout=PATIENCE_S)
        assert page.status_code == 200
        assert "; Secure;" in page.headers["Set-Cookie"]
        token = CSRF.search(page.text).group(1)
        form = {"guard_id": "G001", "pin": "1234", "lane": "in", "csrf_token": token}
        signed_on = https.post(lan.server.tls_url + "/sign-on", data=form, allow_redirects=False, timeout=PATIENCE_S,
                               headers=browser_referer(page))
        assert signed_on.status_code == 302
        assert "; Secure;" in signed_on.headers["Set-Cookie"]
    plain = requests.get(lan.server.url + "/sign-on", timeout=PATIENCE_S)  # the touchscreen, on loopback
    assert "Secure" not in plain.headers["Set-Cookie"]


def browser_referer(page: requests.Response) -> dict:
    """The Referer a browser sends with a same-origin form POST from ``page``: none under
    ``Referrer-Policy: no-referrer`` (Flask-WTF then refuses every form over HTTPS: its
    referrer check), the page's address under every other policy."""
    if page.headers.get("Referrer-Policy", "").strip().lower() == "no-referrer":
        return {}
    return {"Referer": page.url}


def test_init_makes_a_private_certificate_and_rotation_replaces_it(tmp_path):
    home = tmp_path / "gate"
    init = kiosk(home, "init", "--site", "jinan", "--gate-id", "jinan-gate")
    assert init.exit_code == 0, init.output
    shown_now = kiosk(home, "tls", "show").output.strip()
    assert init.output.endswith(f"TLS certificate fingerprint (SHA-256) for `kiosk office gate add "
                                f"--fingerprint`: {shown_now}\n")
    pem = home / "keys" / "tls.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    refused = kiosk(home, "tls", "rotate")  # asks first: the office will refuse the gate until it re-pins
    assert refused.exit_code == 1 and kiosk(home, "tls", "show").output.strip() == shown_now
    rotated = kiosk(home, "tls", "rotate", "--yes")
    assert rotated.exit_code == 0
    assert rotated.stdout.strip() == kiosk(home, "tls", "show").output.strip() != shown_now
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert sorted(path.name for path in pem.parent.iterdir()) == ["gate-export.key", "tls.pem"]  # no copy left behind


def test_a_rotated_certificate_is_refused_until_the_office_pins_it(community, tmp_path):
    token = new_token(community.gate_home)
    with KioskServer(community.gate_home, tmp_path / "serve.log", tls_host=OTHER) as server:
        add_gate(community.office_home, server.tls_url, token, server.fingerprint)
        assert kiosk(community.office_home, "office", "pull").exit_code == 0
        old = server.fingerprint
        rotated = kiosk(community.gate_home, "tls", "rotate", "--yes")
        assert rotated.exit_code == 0
        new = rotated.stdout.strip()
        assert new == shown(tls.fingerprint(load_config(community.gate_home))) != shown(old)
        server.stop()
        server.start()  # systemctl restart kiosk-web
        refused = kiosk(community.office_home, "office", "pull")
        assert refused.exit_code == 1
        assert f"presents certificate {new}, not the pinned {shown(old)}" in refused.stderr
        pinned = kiosk(community.office_home, "office", "gate", "pin", "jinan-gate", new)
        assert pinned.output == f"gate jinan-gate pinned to certificate {new}\n"
        again = kiosk(community.office_home, "office", "pull")
        assert again.exit_code == 0, again.output


def test_the_gate_screen_shows_the_fingerprint_to_pin_and_the_network_does_not(client, demo):
    fingerprint = shown(tls.fingerprint(load_config(demo.gate_home)))
    assert 'href="/tls"' in client.get("/sign-on").get_data(as_text=True)
    page = client.get("/tls?lang=en")  # the touchscreen: plain HTTP from 127.0.0.1
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    pairs = fingerprint.split(":")
    assert f'<pre class="fingerprint">{":".join(pairs[:8])}\n{":".join(pairs[8:16])}\n' \
           f'{":".join(pairs[16:24])}\n{":".join(pairs[24:])}\n</pre>' in text
    assert "<svg" in text
    assert client.get("/tls", base_url="https://localhost").status_code == 404  # over TLS: from the LAN
    assert client.get("/tls", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 404
    assert 'href="/tls"' not in client.get("/sign-on", base_url="https://localhost").get_data(as_text=True)
