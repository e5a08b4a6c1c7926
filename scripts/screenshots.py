"""Refresh docs/screenshots/: every state of the guard screen and every guard form at 800x480.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

A demo community in a temporary folder, the app in process (no server), Debian's Chromium
through Playwright: the same harness as tests/web/test_screen_layout.py. The screen's
decision states come from web/screen_preview.py (the app's templates, made-up decisions with
the longest texts); the forms are the real pages of a signed-on guard.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.core.clock import FixedClock  # noqa: E402
from kiosk.core.rules import Scan  # noqa: E402
from kiosk.gate.service import Gate  # noqa: E402
from kiosk.sim.demo import GUARD, ROLES, SUPERVISOR, create_demo  # noqa: E402
from kiosk.store import photos  # noqa: E402
from kiosk.store.db import transaction  # noqa: E402
from web import create_app  # noqa: E402
from web.screen_preview import (  # noqa: E402
    PREVIEW_ORIGIN,
    launch_chromium,
    preview_jpeg,
    render_screen,
    serve_in_process,
)

SCREEN_STATES = [  # file name, language, decision code (None: an allow without remarks)
    ("screen-allow", "zh", None), ("screen-fever", "zh", "fever"), ("screen-isolation", "zh", "home_isolation"),
    ("screen-quota", "zh", "household_quota"), ("screen-returnee", "zh", "returnee_high_risk"),
    ("screen-forged", "zh", "bad_signature"), ("screen-waiting", "zh", "waiting"), ("screen-fever-en", "en", "fever"),
    ("screen-face-mismatch", "zh", "face_mismatch"), ("screen-photo-en", "en", None),
]
FORMS = [  # file name, path ({fever}: a refused event), a field to tap (opens the keypad)
    ("form-check", "/actions/check", None), ("form-check-keypad", "/actions/check", "input[name=pass_id]"),
    ("form-check-search", "/actions/check?q=1-1-101", None), ("form-temperature", "/actions/temperature", None),
    ("form-returnee", "/actions/returnee", None), ("form-vehicle", "/actions/vehicle", None),
    ("form-override", "/actions/override/{fever}", None), ("form-sign-off", "/sign-off", None),
    ("form-handover", "/screen/handover", None), ("form-menu", "/actions/", None),
]


def prepared_app(folder: Path):
    """The demo gate a minute on, with a fever refusal and a handover note waiting, and the
    resident (who has a photo on file) let out."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    demo = create_demo(folder / "demo", now)
    clock = FixedClock(now + timedelta(minutes=1))
    with Gate.open(demo.gate_home, clock=clock) as gate:
        fever = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.6, lane="in")).event
        with transaction(gate.db) as conn:
            photos.replace_photos(conn, {ROLES["resident"]: preview_jpeg()})
        gate.check(Scan("out", token=demo.tokens["resident"], temperature=36.4, lane="out"))
        gate.sign_on(SUPERVISOR[0], SUPERVISOR[2], "out", gate.now())
        gate.sign_off(SUPERVISOR[0], SUPERVISOR[2], gate.now(), "2号楼东侧快递柜门已坏，已报物业；夜班注意外卖车辆登记。")
    return create_app({"KIOSK_HOME": str(demo.gate_home), "CLOCK": clock, "TESTING": True}), fever


def signed_on_client(app):
    client = app.test_client()
    page = client.get("/sign-on").get_data(as_text=True)
    fields = {name: page.split(f'name="{name}" value="')[1].split('"')[0] for name in ("csrf_token", "nonce")}
    client.post("/sign-on", data={**fields, "guard_id": GUARD[0], "pin": GUARD[2], "lane": "in"})
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, launch_chromium() as chromium:
        app, fever = prepared_app(Path(folder))
        client = signed_on_client(app)
        context = chromium.new_context(viewport={"width": 800, "height": 480}, service_workers="block")
        context.route(PREVIEW_ORIGIN + "/**", serve_in_process(client))
        page = context.new_page()
        page.goto(PREVIEW_ORIGIN + "/screen/")
        page.screenshot(path=str(out / "screen-photo.png"))  # the real screen: the photo through its own route
        for name, language, code in SCREEN_STATES:
            page.set_content(render_screen(app, language, code), wait_until="load")
            page.screenshot(path=str(out / f"{name}.png"))
        shutil.copyfile(out / "screen-fever.png", out / "guard-screen.png")  # the README's picture
        page.set_content(render_screen(app, "zh", "fever"), wait_until="load")
        page.evaluate("() => { document.body.classList.add('offline'); document.getElementById('offline').hidden = false;"
                      " document.getElementById('offline-age').textContent = '最后更新：42 秒前'; }")
        page.screenshot(path=str(out / "screen-offline.png"))
        for name, path, tap in FORMS:
            page.goto(PREVIEW_ORIGIN + path.format(fever=fever["id"]))
            if tap:
                page.click(tap)
            page.screenshot(path=str(out / f"{name}.png"))
        context.close()
        anonymous = chromium.new_context(viewport={"width": 800, "height": 480}, service_workers="block")
        anonymous.route(PREVIEW_ORIGIN + "/**", serve_in_process(app.test_client()))
        page = anonymous.new_page()
        page.goto(PREVIEW_ORIGIN + "/sign-on")
        page.click("input[name=pin]")
        page.screenshot(path=str(out / "form-sign-on.png"))
        anonymous.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
