"""The guard screen: each lane's latest decision, the status bar, and the live stream.

The stream is Server-Sent Events: every decision recorded (by any process) is sent
with ``id: <seq>``, so a browser that reconnects after a restart resumes from its
Last-Event-ID. Each connection lives at most SSE_LIFETIME seconds, then the browser
reconnects (retry 1000 ms): no thread is held forever by a vanished client.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context

from kiosk.core.protocol import MAX_SEQ
from web import get_gate, whole_number
from web.auth import viewer_required
from web.lane_status import decisions_after, lane_card, last_seq, latest_decision, status

bp = Blueprint("screen", __name__, url_prefix="/screen")
PING_SECONDS = 10


@bp.route("/")
@viewer_required
def screen():
    gate = get_gate()
    cards = [lane_card(gate.db, lane, latest_decision(gate.db, lane["id"])) for lane in gate.config["lanes"]]
    return render_template("screen.html", cards=cards, status=status(gate, gate.now()), after=last_seq(gate.db))


@bp.route("/status")
@viewer_required
def status_bar():
    gate = get_gate()
    return render_template("_status.html", status=status(gate, gate.now()))


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
                card = lane_card(gate.db, lanes[event["lane"]], event)
                html = render_template("_lane.html", card=card)
                yield f"id: {after}\nevent: decision\ndata: {json.dumps({'lane': event['lane'], 'html': html, 'alarm': card['event']['alarm']})}\n\n"
        if time.monotonic() - last_ping > PING_SECONDS:
            last_ping = time.monotonic()
            yield ": ping\n\n"  # a write that fails once the client has gone
        time.sleep(current_app.config["SSE_POLL"])
