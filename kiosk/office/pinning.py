"""How the office reaches a gate: HTTPS with the gate's certificate pinned, or plain HTTP on loopback.

The gate's certificate is self-signed; no authority vouches for it. The office trusts exactly
the certificate whose SHA-256 fingerprint it recorded (``kiosk office gate add --fingerprint``,
read from the gate's screen or ``kiosk tls show``) and nothing else, so a device on the LAN
that answers at the gate's address cannot read the token or feed events. Plain HTTP is
allowed only to a gate on this same machine (a loopback address: tests, a desk demo).
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from kiosk.core.protocol import SyncError
from kiosk.core.transport import fingerprint_of, is_loopback, parse, shown
from kiosk.office.service import Office


def check_address(url: str, fingerprint: str | None) -> str | None:
    """Refuse a gate address that would send the token in clear; returns the parsed fingerprint."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        if not fingerprint:
            raise SyncError("not_pinned", f"{url}: give the gate's certificate fingerprint (--fingerprint, "
                                          f"as `kiosk tls show` prints it on the gate)")
        return parse(fingerprint)
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return parse(fingerprint) if fingerprint else None
    raise SyncError("plain_http_lan", f"{url}: a gate on the LAN is reached over https:// only "
                                      f"(plain http:// only to this machine's loopback)")


def pin(office: Office, name: str, fingerprint: str) -> str:
    """Record (or replace, after `kiosk tls rotate` on the gate) the gate's certificate fingerprint."""
    digits = parse(fingerprint)
    if not office.store.conn.execute("UPDATE gates SET tls_fingerprint = ? WHERE name = ?", [digits, name]).rowcount:
        raise SyncError("unknown_gate", f"no gate {name!r}: add it with `kiosk office gate add`")
    return digits


def pinned_session(gate: dict) -> requests.Session:
    """A session that speaks only to the gate whose certificate the office pinned.

    A gate whose address is refused (plain HTTP over the LAN, HTTPS without a pin) gets a session
    that refuses every request: the refusal is that gate's failure, and a pull goes on with the others.
    """
    session = requests.Session()
    try:
        fingerprint = check_address(gate["url"], gate.get("tls_fingerprint"))
    except SyncError as refusal:
        for prefix in ("https://", "http://"):
            session.mount(prefix, RefusingAdapter(refusal))
        return session
    if fingerprint:
        session.mount("https://", PinnedAdapter(fingerprint))
    return session


class RefusingAdapter(BaseAdapter):
    """Sends nothing: every request raises the refusal of the gate's address."""

    def __init__(self, refusal: SyncError) -> None:
        super().__init__()
        self.refusal = refusal

    def send(self, *_args, **_kwargs):
        raise self.refusal

    def close(self) -> None:
        pass


class PinnedAdapter(HTTPAdapter):
    """urllib3's ``assert_fingerprint``: the handshake fails unless the gate's certificate has this SHA-256.

    The check runs on the certificate before a byte of the request (token included) is sent.
    A mismatch becomes SyncError ``tls_pin_mismatch`` naming the certificate the address presents.
    """

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["assert_fingerprint"] = self.fingerprint
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        # No authority vouches for a gate: the pinned fingerprint is the whole check, whatever
        # verify says ($REQUESTS_CA_BUNDLE would otherwise bring back the system's authorities).
        try:
            return super().send(request, stream=stream, timeout=timeout, verify=False, cert=cert, proxies=proxies)
        except requests.exceptions.SSLError:
            presented = _presented_fingerprint(request.url)
            if presented is None or presented == self.fingerprint:
                raise
            raise SyncError("tls_pin_mismatch", f"{urlsplit(request.url).netloc} presents certificate "
                                                f"{shown(presented)}, not the pinned {shown(self.fingerprint)}: "
                                                f"not the gate, or its certificate was rotated (check "
                                                f"`kiosk tls show` on the gate, then `kiosk office gate pin`)") from None


def _presented_fingerprint(url: str) -> str | None:
    """The fingerprint of the certificate served at ``url``'s address (a second, request-less handshake)."""
    parts = urlsplit(url)
    try:
        pem = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=10)
    except (OSError, ValueError):
        return None
    return fingerprint_of(ssl.PEM_cert_to_DER_cert(pem))
