"""``/tls``: the gate's certificate fingerprint as text and QR code, for the office to pin.

Shown on the gate's own screen only (plain HTTP exists on loopback only, see web/serve.py):
a fingerprint read over the network proves nothing, since whoever answers could show their
own. Public there, like the certificate itself; the sign-on page links to it.
"""

from __future__ import annotations

import segno
from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup

from kiosk.core.transport import is_loopback, shown
from kiosk.store import tls

bp = Blueprint("tls", __name__)


@bp.route("/tls")
def certificate():
    if request.is_secure or not is_loopback(request.remote_addr or ""):
        abort(404)
    fingerprint = shown(tls.fingerprint(current_app.extensions["kiosk_config"]))
    qr = segno.make(fingerprint, error="m").svg_inline(scale=3)  # segno escapes nothing it is not given
    pairs = fingerprint.split(":")
    lines = [":".join(pairs[start:start + 8]) for start in range(0, len(pairs), 8)]  # fits the 800 px screen
    return render_template("tls.html", lines=lines, qr=Markup(qr))
