"""The guard screen: each lane's latest decision, the status bar, the alarm strip and the live stream.

The stream is Server-Sent Events: every decision recorded (by any process) is sent
with ``id: <seq>``, so a browser that reconnects after a restart resumes from its
Last-Event-ID. Each connection lives at most SSE_LIFETIME seconds, then the browser
reconnects (retry 1000 ms): no thread is held forever by a vanished client.

Every guard page (forms included) carries the alarm strip and web/static/live.js (stream,
beeps, offline state). A service worker (``/sw.js``) keeps the offline page at hand, so a
page that cannot reach the server shows it (and retries) instead of Chromium's error page.
"""

from __future__ import annotations

import hashlib
import json
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)

from kiosk.core.protocol import MAX_SEQ
from kiosk.store import photos
from kiosk.store.guards import GuardError
from web import get_gate, whole_number
from web.alarm_strip import acknowledge as acknowledge_alarm
from web.alarm_strip import failed_devices, pending_alarms, pending_handover
from web.auth import current_guard, guard_required, viewer_required
from web.lane_status import decisions_after, lane_card, last_seq, latest_decision, shown_person, status

bp = Blueprint("screen", __name__, url_prefix="/screen")
PING_SECONDS = 10


@bp.app_context_processor
def _guard_page_helpers():
    return {"alarm_strip": _alarm_strip, "live_after": lambda: last_seq(get_gate().db)}


def _alarm_strip() -> dict:
    gate = get_gate()
    directions = {lane["id"]: lane["direction"] for lane in gate.config["lanes"]}
    devices = [{**device, "direction": directions.get(device["lane"])} for device in failed_devices(gate)]
    return {"events": pending_alarms(gate, gate.now()), "devices": devices}


@bp.route("/")
@viewer_required
def screen():
    gate = get_gate()
    cards = [lane_card(gate, lane, latest_decision(gate.db, lane["id"])) for lane in gate.config["lanes"]]
    return render_template("screen.html", cards=cards, status=status(gate, gate.now()))


@bp.route("/status")
@viewer_required
def status_bar():
    gate = get_gate()
    return render_template("_status.html", status=status(gate, gate.now()))


@bp.route("/alarms")
@viewer_required
def alarms():
    """The strip, refreshed by live.js; ``next`` is the page it shows on (where 已知晓 returns to)."""
    return render_template("_alarms.html", alarms=_alarm_strip(), next_page=request.args.get("next"))


@bp.route("/alarms/<event_id>/ack", methods=["POST"])
@guard_required
def acknowledge(event_id):
    """One tap: the guard saw this alarm (an ``ack`` event); back to the page it was tapped on."""
    gate = get_gate()
    try:
        acknowledge_alarm(gate, event_id, g.guard_id, gate.now())
    except LookupError:
        abort(404)
    back = request.form.get("next", "")  # a path on this site only: never //host or /\host
    return redirect(back if back.startswith("/") and not back.startswith(("//", "/\\")) else url_for("screen.screen"))


@bp.route("/photo/<event_id>")
@guard_required
def photo(event_id):
    """The holder's photo beside a decision, for a signed-on guard's screen only (not the office's
    viewers, never in an export): private to this browser, revalidated by its digest (ETag)."""
    gate = get_gate()
    person = shown_person(gate.db, event_id)
    jpeg = photos.photo_for(gate.db, person) if person else None
    if jpeg is None:
        abort(404)
    response = Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, no-cache"})
    response.set_etag(hashlib.sha256(jpeg).hexdigest())
    return response.make_conditional(request)


@bp.route("/face-mismatch/<event_id>", methods=["POST"])
@guard_required
def face_mismatch(event_id):
    """One tap: the face is not the holder's photo, recorded as a ``face_mismatch`` refusal (once)."""
    gate = get_gate()
    try:
        gate.report_face_mismatch(event_id, g.guard_id, gate.now())
    except GuardError:
        abort(404)
    return redirect(url_for("screen.screen"))


@bp.route("/handover")
@guard_required
def handover():
    """At sign-on: the previous guard's handover note, until acknowledged."""
    gate = get_gate()
    note = pending_handover(gate, gate.now())
    if note is None:
        return redirect(url_for("screen.screen"))
    return render_template("handover.html", note=note)


@bp.route("/offline")
def offline():
    """The page the service worker shows when the server cannot be reached: it retries by itself."""
    g.guard_id = current_guard()
    return render_template("offline.html")


@bp.route("/sw.js")
def service_worker():
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"  # it serves every page, not only /screen/
    return response


@bp.route("/stream")
@viewer_required
def stream():
    after = whole_number(request.headers.get("Last-Event-ID") or request.args.get("after"), 0, MAX_SEQ)
    disconnected = request.environ.get("waitress.client_disconnected", lambda: False)
    return Response(stream_with_context(_events(after, disconnected)), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _events(after: int, disconnected):
    gate = get_gate()
    lanes = {lane["id"]: lane for lane in gate.config["lanes"]}
    start = last_ping = time.monotonic()
    yield "retry: 1000\n\n"
    while time.monotonic() - start < current_app.config["SSE_LIFETIME"] and not disconnected():
        for event in decisions_after(gate.db, after):
            after = event["seq"]
            if event["lane"] in lanes:
                card = lane_card(gate, lanes[event["lane"]], event)
                html = render_template("_lane.html", card=card)
                yield f"id: {after}\nevent: decision\ndata: {json.dumps({'lane': event['lane'], 'html': html, 'alarm': card['event']['alarm']})}\n\n"
        if time.monotonic() - last_ping > PING_SECONDS:
            last_ping = time.monotonic()
            yield ": ping\n\n"  # a write that fails once the client has gone
        time.sleep(current_app.config["SSE_POLL"])
