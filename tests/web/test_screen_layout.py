"""The guard screen and every guard form, measured in Chromium: nothing overflows, overlaps or scrolls,
every touch target is at least 48 CSS px high (about 9 mm on the gate's 7-inch screen), and all
text reaches WCAG AA contrast.

One browser for the module; no server process: Playwright hands each request to the app's
in-process Flask client (``serve_in_process``), and the screen's states are the app's own
templates rendered from made-up decisions (web/screen_preview.py): every decision code x
language x lane (both lanes at once) at 800x480 and 1024x600, the entry lane with the holder's photo
and the exit lane with "no photo on file".
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.sim.demo import ROLES, create_demo
from kiosk.store import photos
from kiosk.store.db import transaction
from tests.conftest import NOW
from tests.web.conftest import sign_on
from web import create_app
from web.screen_preview import (
    PREVIEW_ORIGIN,
    SIZES,
    launch_chromium,
    preview_jpeg,
    render_screen,
    screen_states,
    serve_in_process,
)

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")

BASE = PREVIEW_ORIGIN
MIN_TARGET_PX = 48
MIN_PHOTO_PX = {480: 140, 600: 200}  # the holder's photo beside the decision: large enough to compare a face

# Every problem on the page, as text: the page scrolls; a box's content overflows it (clipped or
# spilling); a child sticks out of its parent; two siblings overlap. Fixed overlays (the keypad,
# the offline screen) are meant to lie over the page and are checked on their own.
PROBLEMS_JS = """() => {
  const problems = [];
  const shown = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && !el.closest('[hidden]');
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + (el.innerText || el.value || '').slice(0, 30).replace(/\\s+/g, ' ') + '"';
  const root = document.documentElement;
  if (root.scrollHeight > innerHeight + 1 || root.scrollWidth > innerWidth + 1)
    problems.push(`page scrolls: ${root.scrollWidth}x${root.scrollHeight} in ${innerWidth}x${innerHeight}`);
  const elements = [...document.body.querySelectorAll('*')].filter(el =>
    shown(el) && !['SCRIPT', 'OPTION', 'BR'].includes(el.tagName) && getComputedStyle(el).position !== 'fixed' &&
    !el.closest('.keypad, .offline-screen'));
  for (const el of elements) {
    const s = getComputedStyle(el);
    if (s.display !== 'inline' && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) &&
        (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1))
      problems.push(`overflows its box: ${name(el)} ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
    const parent = el.parentElement;  // inline text may reach above its line box (CJK glyphs): boxes only
    if (parent && parent !== document.body && s.display !== 'inline') {
      const r = el.getBoundingClientRect(), p = parent.getBoundingClientRect();
      if (r.left < p.left - 1 || r.top < p.top - 1 || r.right > p.right + 1 || r.bottom > p.bottom + 1)
        problems.push(`sticks out of ${name(parent)}: ${name(el)}`);
    }
  }
  const kids = new Map();
  for (const el of elements) {
    if (!kids.has(el.parentElement)) kids.set(el.parentElement, []);
    kids.get(el.parentElement).push(el);
  }
  for (const [, siblings] of kids) {
    for (let i = 0; i < siblings.length; i++) for (let j = i + 1; j < siblings.length; j++) {
      const a = siblings[i].getBoundingClientRect(), b = siblings[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) problems.push(`overlap: ${name(siblings[i])} and ${name(siblings[j])}`);
    }
  }
  return problems;
}"""

# Text that does not reach WCAG AA against the first opaque background behind it: 4.5:1, or 3:1
# for large text (24 px, or 18.7 px bold). Half-transparent backgrounds are looked through.
CONTRAST_JS = """() => {
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const low = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('[hidden]') || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || el.closest('.offline-screen')) continue;
    let back = null;
    for (let a = el; a && !back; a = a.parentElement) {
      const c = rgb(getComputedStyle(a).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) back = c.slice(0, 3);
    }
    back = back || [255, 255, 255];
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const got = ratio(rgb(s.color).slice(0, 3), back);
    if (got < needed) low.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 20)}" ${got.toFixed(2)}`);
  }
  return low;
}"""

TARGETS_JS = """(minimum) => [...document.querySelectorAll(
    'a, button, select, textarea, input:not([type=hidden]):not([type=radio]), label.big-radio')]
  .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && !el.closest('[hidden]'); })
  .map(el => [el.tagName.toLowerCase() + ' ' + (el.innerText || el.name || '').trim().slice(0, 20),
              Math.round(el.getBoundingClientRect().height)])
  .filter(([, height]) => height < minimum)"""


@pytest.fixture(scope="module")
def world(demo_template, tmp_path_factory):
    """A demo gate with a fever refusal (for the override form) and a handover note."""
    demo = create_demo(shutil.copytree(demo_template(NOW), tmp_path_factory.mktemp("layout") / "demo"), NOW)
    clock = FixedClock(NOW + timedelta(minutes=1))
    with Gate.open(demo.gate_home, clock=clock) as gate:
        fever = gate.check(Scan("in", token=demo.tokens["second_resident"], temperature=38.6, lane="in")).event
        gate.sign_on("S001", "999999", "out", gate.now())
        gate.sign_off("S001", "999999", gate.now(), "2号楼东侧快递柜门已坏，已报物业；夜班注意外卖车辆登记。" * 3)
    app = create_app({"KIOSK_HOME": str(demo.gate_home), "CLOCK": clock, "TESTING": True,
                      "SSE_LIFETIME": 0.1, "SSE_POLL": 0.05})
    return app, fever


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def guard_client(world):
    app, _ = world
    client = app.test_client()
    assert sign_on(client).status_code == 302
    return client


def open_page(browser, client, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
    context.set_default_timeout(60_000)
    context.route(BASE + "/**", serve_in_process(client))
    return context, context.new_page()


@pytest.mark.parametrize("width, height", SIZES)
def test_every_code_in_both_languages_on_both_lanes_fits(browser, world, guard_client, width, height):
    app, _ = world
    context, page = open_page(browser, guard_client, width, height)
    page.goto(BASE + "/screen/")  # the origin the rendered pages' /static/ links resolve against
    found, shown = {}, set()
    for language in ("zh", "en"):
        for code in screen_states():
            page.set_content(render_screen(app, language, code), wait_until="load")
            widths = {page.locator(f"#lane-{lane}").bounding_box()["width"] for lane in ("in", "out")}
            if max(widths) - min(widths) > 1:
                found[language, code, "widths"] = widths  # the two cards differ in width
            if problems := page.evaluate(PROBLEMS_JS):
                found[language, code] = problems
            if small := page.evaluate(TARGETS_JS, MIN_TARGET_PX):
                found[language, code, "targets"] = small
            if low := page.evaluate(CONTRAST_JS):
                found[language, code, "contrast"] = low
            photo = page.locator("#lane-in figure.photo img")
            if photo.count():  # the entry lane shows the holder's photo, the exit lane "no photo on file"
                shown.add(code)
                if photo.bounding_box()["height"] < MIN_PHOTO_PX[height]:
                    found[language, code, "photo"] = photo.bounding_box()  # the face must stay large
                if not page.locator("#lane-out figure.photo .no-photo").is_visible():
                    found[language, code, "no photo"] = "not shown"
    context.close()
    assert found == {}
    assert {None, "fever", "household_quota", "face_mismatch", "clock_unsynced"} <= shown


GUARD_PAGES = ["/screen/", "/actions/", "/actions/check", "/actions/check?q=1-1-101", "/actions/temperature",
               "/actions/returnee", "/actions/vehicle", "/actions/override/{fever}", "/sign-off",
               "/screen/handover"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_guard_form_fits_800x480_without_scrolling_and_its_targets_are_48px(browser, world, guard_client,
                                                                                 language):
    _, fever = world
    context, page = open_page(browser, guard_client, 800, 480)
    found, heights = {}, {}
    for path in GUARD_PAGES:
        url = BASE + path.format(fever=fever["id"]) + ("&" if "?" in path else "?") + f"lang={language}"
        page.goto(url)
        assert page.url.startswith(BASE + path.format(fever=fever["id"]).split("?")[0]), (path, page.url)
        if problems := page.evaluate(PROBLEMS_JS):
            found[path] = problems
        if small := page.evaluate(TARGETS_JS, MIN_TARGET_PX):
            found[path, "targets"] = small
        if low := page.evaluate(CONTRAST_JS):
            found[path, "contrast"] = low
        heights[path] = page.evaluate("Math.min(...[...document.querySelectorAll('a.button, button')]"
                                      ".filter(b => b.offsetParent).map(b => b.getBoundingClientRect().height))")
    context.close()
    assert found == {}
    assert min(heights.values()) >= MIN_TARGET_PX  # measured: the smallest button on any guard page


def test_the_keypad_types_without_a_system_keyboard_and_never_covers_its_field(browser, world, guard_client):
    context, page = open_page(browser, guard_client, 800, 480)
    page.goto(BASE + "/actions/check")
    page.click("input[name=pass_id]")
    assert page.is_visible("#keypad")
    for key in "P1A":
        page.click(f"#keypad [data-key='{key}']")
    page.click("#keypad [data-key='back']")
    assert page.input_value("input[name=pass_id]") == "P1"
    page.click("input[name=temperature]")
    assert not page.is_visible("#keypad [data-key='A']")  # a temperature takes digits and a point
    for key in "37.2":
        page.click(f"#keypad [data-key='{key}']")
    assert page.input_value("input[name=temperature]") == "37.2"
    field, pad = (page.locator(selector).bounding_box() for selector in ("input[name=temperature]", "#keypad"))
    assert field["x"] + field["width"] <= pad["x"] or field["y"] + field["height"] <= pad["y"]
    assert page.evaluate(PROBLEMS_JS) == [] and page.evaluate(TARGETS_JS, MIN_TARGET_PX) == []
    page.click("#keypad [data-key='done']")
    assert not page.is_visible("#keypad")
    context.close()


def test_the_sign_on_form_fits_with_its_keypad_open(browser, world):
    app, _ = world
    context, page = open_page(browser, app.test_client(), 800, 480)
    page.goto(BASE + "/sign-on")
    page.click("input[name=pin]")
    assert page.evaluate(PROBLEMS_JS) == [] and page.evaluate(TARGETS_JS, MIN_TARGET_PX) == []
    context.close()


def test_the_real_screen_shows_the_holders_photo_and_one_tap_reports_the_face(browser, world, guard_client):
    """The photo through its route in Chromium (decoded, large, nothing overlapping), then the tap."""
    app, _ = world
    with Gate.open(app.config["KIOSK_HOME"], clock=app.config["CLOCK"]) as gate:
        with transaction(gate.db) as conn:
            photos.replace_photos(conn, {ROLES["resident"]: preview_jpeg()})
        demo = create_demo(Path(app.config["KIOSK_HOME"]).parent, NOW)
        checked = gate.check(Scan("out", token=demo.tokens["resident"], temperature=36.4, lane="out")).event
    context, page = open_page(browser, guard_client, 800, 480)
    page.goto(BASE + "/screen/?lang=zh")
    photo = page.locator("#lane-out figure.photo img")
    assert page.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]", photo.element_handle()) == \
        [True, 160, 200]
    assert photo.bounding_box()["height"] >= MIN_PHOTO_PX[480] and page.evaluate(PROBLEMS_JS) == []
    page.click("#lane-out button.mismatch")
    page.wait_for_url(BASE + "/screen/")
    assert "deny" in page.get_attribute("#lane-out", "class") and page.is_visible("#lane-out figure.photo img")
    assert "人脸与照片不符" in page.inner_text("#alarms") and page.evaluate(PROBLEMS_JS) == []
    context.close()
    with Gate.open(app.config["KIOSK_HOME"]) as gate:
        assert [json.loads(row["data"])["face_check_of"] for row in
                gate.db.query("SELECT data FROM events WHERE kind = 'face_check'")] == [checked["id"]]
