"""Every state of the guard screen, rendered by the app's own templates from made-up decisions.

For the layout test (tests/web/test_screen_layout.py: every decision code x language x lane
at 800x480 and 1024x600) and the screenshots in docs/screenshots/ (scripts/screenshots.py).
The cards carry the longest texts a gate can show: a three-character masked name, a long
household, a plate, the cadre with a phone number, two household members out, a manual
check's header, the alarm strip with an alarm and a failed device, the status bar with two
guards (one left on from the last shift), every device failed and the registry stale.
Nothing here decides anything: the cards are what ``lane_status.lane_card`` would build.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import SimpleNamespace

import cv2
import numpy as np
from flask import Flask, g, render_template

from kiosk.core.codes import CODES, codes_with

ALARMS = codes_with(alarm=True)
VEHICLE_CODES = ("vehicle_pass_alone", "plate_mismatch")
# Decisions that name no person (nothing to compare a face with): no photo beside them.
NO_PERSON_CODES = ("unreadable", "bad_signature", "unknown_key", "unknown_pass", "vehicle_pass_alone")
RETURNEE_CODES = ("returnee_high_risk", "returnee_low_risk")
LANES = ({"id": "in", "direction": "in"}, {"id": "out", "direction": "out"})
SIZES = ((800, 480), (1024, 600))
LIVE_SCRIPT = re.compile(r'<script src="[^"]*/live\.js"></script>')
# Debian's Chromium as the gate runs it, driven by Playwright (tests and scripts/screenshots.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PREVIEW_ORIGIN = "http://kiosk.test"


@contextmanager
def launch_chromium() -> Iterator:
    """One Chromium for many pages (Playwright is imported here: only tests and the script need it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def serve_in_process(client, origin: str = PREVIEW_ORIGIN):
    """A Playwright route handler answering ``origin``'s requests from a Flask test client: the real
    app, no server process. The live script is left out (no stream to keep open)."""
    def handle(route):
        request = route.request
        body = request.post_data_buffer
        headers = {"Content-Type": request.headers["content-type"]} if body else {}
        with client.open(request.url[len(origin):], method=request.method, data=body, headers=headers) as response:
            payload = response.get_data()
            if response.mimetype == "text/html":
                payload = LIVE_SCRIPT.sub("", payload.decode()).encode()
            route.fulfill(status=response.status_code, body=payload,
                          headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"})
    return handle


def outcome_of(code: str | None) -> str:
    """A code's outcome on its own: deny, refer, or allow (a warning lets through); a code that is
    off by default (the household quota) refuses where a compound switches it on."""
    severity = CODES[code].severity if code else "allow"
    return "deny" if severity == "off" else severity if severity in ("deny", "refer") else "allow"


def preview_card(lane: dict, code: str | None) -> dict:
    """A lane card with ``code`` (None: an allow without remarks) and the longest facts; the entry
    lane shows the holder's photo with the face-mismatch button, the exit lane "no photo on file"."""
    if code == "waiting":
        return {"lane": lane["id"], "direction": lane["direction"], "event": None}
    codes = [code] if code else []
    vehicle = code in VEHICLE_CODES
    kind = "returnee" if code in RETURNEE_CODES else "face_check" if code == "face_mismatch" else "manual"
    event = {
        "seq": 1, "id": f"preview-{lane['id']}", "outcome": outcome_of(code), "codes": codes,
        "kind": kind, "direction": lane["direction"],
        "temperature": 38.6 if code in ("fever", "fever_remeasured") else 36.5, "time": "23:59:59",
        "name": "陕H6789A" if vehicle else "欧*娜", "plate": "陕H6789A" if vehicle else None,
        "household": "12-3-2503", "alarm": code in ALARMS,
        "cadre": {"name": "赵干部", "phone": "13700000009"} if code in ("home_isolation", "central_quarantine")
        else None,
        "quota": {"out": [{"name": "张*明", "time": "11-29 08:15"}, {"name": "欧*娜", "time": "11-29 09:40"}],
                  "renews": "12-01 08:15"} if code == "household_quota" else None,
        "photo": None if kind == "returnee" or code in NO_PERSON_CODES else
        {"digest": "preview", "src": preview_photo(), "reportable": kind == "manual"} if lane["id"] == "in" else
        {"digest": None, "reportable": False},
    }
    return {"lane": lane["id"], "direction": lane["direction"], "event": event}


@cache
def preview_jpeg() -> bytes:
    """A made-up holder's photo: a drawn head and shoulders, 160x200 like the office's thumbnails."""
    image = np.full((200, 160, 3), (200, 190, 180), np.uint8)
    cv2.ellipse(image, (80, 210), (75, 60), 0, 180, 360, (90, 60, 40), -1)  # shoulders
    cv2.ellipse(image, (80, 90), (42, 54), 0, 0, 360, (150, 180, 215), -1)  # face
    cv2.ellipse(image, (80, 60), (46, 30), 0, 180, 360, (30, 30, 30), -1)  # hair
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def preview_photo() -> str:
    """``preview_jpeg`` as a data URL (the preview has no event to serve it for)."""
    return "data:image/jpeg;base64," + base64.b64encode(preview_jpeg()).decode()


def preview_status() -> dict:
    """A crowded status bar: two guards (one from the last shift), failed devices, a stale registry."""
    return {
        "on_duty": [{"guard_id": "G001", "name": "王建国", "lane": "in", "direction": "in", "earlier_shift": True},
                    {"guard_id": "S001", "name": "李秀英", "lane": "out", "direction": "out", "earlier_shift": False}],
        "shift": SimpleNamespace(name_zh="中班", name_en="Afternoon"),
        "counts": {"in": 1234, "out": 1187, "refused": 56, "fever": 3},
        "lanes": [{"lane": "in", "direction": "in", "camera": "error", "thermometer": "ok"},
                  {"lane": "out", "direction": "out", "camera": "ok", "thermometer": "unknown"}],
        "registry": {"version": 128, "age_hours": 30.0, "stale": True},
        "office_contact": "2026-11-29T09:30:00", "clock_synced": False, "free_disk_mb": 12345,
    }


def preview_alarms() -> dict:
    return {"events": [{"id": "preview-alarm", "lane": "in", "time": "23:58", "name": "欧*娜",
                        "codes": ["fever", "returnee_high_risk"]},
                       {"id": "preview-alarm-2", "lane": "out", "time": "23:50", "name": "刘*",
                        "codes": ["home_isolation"]}],
            "devices": [{"lane": "in", "direction": "in", "device": "camera"}]}


def render_screen(app: Flask, language: str, code: str | None, *, alarms: bool = True) -> str:
    """The guard screen's HTML (without the live script) with both lanes showing ``code``."""
    with app.test_request_context(f"/screen/?lang={language}"):
        g.lang, g.guard_id = language, "G001"
        html = render_template("screen.html", cards=[preview_card(lane, code) for lane in LANES],
                               status=preview_status(), live_after=lambda: 0,
                               alarm_strip=preview_alarms if alarms else lambda: {"events": [], "devices": []})
    return LIVE_SCRIPT.sub("", html)


def screen_states() -> list[str | None]:
    """Every decision code, an allow without remarks (None) and a lane still waiting."""
    return [*CODES, None, "waiting"]
