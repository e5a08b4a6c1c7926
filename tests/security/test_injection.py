"""Markup, SQL and spreadsheet formulas in every field that reaches SQL, a page, an export or a
file name: stored as typed and shown harmlessly.

The names go the real way: into the office's registry (saved directly: the ledger import now
refuses ids like these, tests/office/test_ledger.py), a signed bundle
loaded by the gate, passes scanned; then the guard screen, the manual-check search, the
office pages, the office's CSV/XLSX exports and `kiosk office report`.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil

import pytest
from openpyxl import load_workbook

from kiosk.core.cells import safe_cell
from kiosk.core.rules import Scan
from kiosk.office import service as office_mod
from kiosk.office.residents import Resident, save_resident
from kiosk.office.service import Office
from kiosk.sim.demo import SITE
from kiosk.store import guards, registry
from tests.sync.sync_helpers import kiosk
from tests.web.conftest import office_login, post, sign_on
from web.event_query import PAGE_SIZE

SCRIPT = "<script>alert(1)</script>"
LONG = "长" * 3000 + SCRIPT
NAMES = [SCRIPT, "'); DROP TABLE events;--", '=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)",
         "O'Brien \"the\" `quote`", "第一行\n<b>第二行</b>", "\u202egnp.exe\u202c 李", LONG]
# Short ids (a pass token holds 35 bytes of ids) that a spreadsheet would run as formulas.
IDS = ["=1+2", "+3", "-4", "@A1", "E5", "E6", "E7", "E8", "E9", "E10"]
EVIL_GUARD = "@SUM(A1)"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def raw_markup_absent(text: str) -> None:
    """No user-supplied tag survives unescaped (the page's own tags are not user text)."""
    assert "<script>alert(1)" not in text and "<b>第二行</b>" not in text and "<b>门卫" not in text


@pytest.fixture
def evil(demo, gate, clock, tmp_path):
    """The evil residents imported, carried to the gate, with passes scanned in and out."""
    with Office.open(demo.office_home) as office:
        for person_id, name in zip(IDS, NAMES):  # such ids the ledger import refuses: saved directly
            save_resident(office.db, Resident(person_id, name, SITE, "<i>9</i>", "=1", "'--",
                                              phone="<img src=x onerror=alert(1)>"))
        passes = {person_id: office_mod.issue_pass(office, subject_kind="resident", subject_id=person_id,
                                                   site_id=SITE, now=clock.now()) for person_id in IDS}
        _, bundle = office_mod.write_bundle(office, SITE, clock.now(), tmp_path / "evil.bundle")
    registry.load_bundle_file(gate.db, bundle, SITE, clock.now())
    stored = {r["id"]: r["name"] for r in gate.db.query("SELECT id, name FROM persons")}
    assert {person_id: stored[person_id] for person_id in IDS} == dict(zip(IDS, NAMES))  # exactly as typed
    guards.add_guard(gate.db, EVIL_GUARD, "<b>门卫</b>", "2468")
    gate.sign_on(EVIL_GUARD, "2468", "in", clock.now())
    for person_id in IDS:
        clock.advance(seconds=30)
        gate.check(Scan("in", token=passes[person_id].token, temperature=36.5, lane="in"), clock.now())
    return passes


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    text = response.get_data(as_text=True)
    raw_markup_absent(text)
    return text


def test_names_are_escaped_on_the_screen_and_in_the_manual_search(client, gate, evil):
    sign_on(client, guard_id=EVIL_GUARD, pin="2468")
    screen = page(client, "/screen/")
    assert "&lt;b&gt;门卫&lt;/b&gt;" in screen  # the guard's name in the status bar
    found = page(client, "/actions/check?q=" + "script")
    assert html.escape(SCRIPT, quote=False) in found
    assert 'class="household">&lt;i&gt;9&lt;/i&gt;-=1-&#39;--<' in found
    for name in NAMES:
        text = page(client, "/actions/check?q=" + name[:40].replace("\n", " ").split(" ")[0])
        assert text.count('class="name"') >= 1, name
    # SQL metacharacters in the search are data: one person, and the tables are still there.
    sqli = page(client, "/actions/check?q=" + "'); DROP TABLE events;--")
    assert sqli.count('class="name"') == 1
    assert gate.db["events"].count == len(IDS) + 2  # two sign-ons and the scans


def test_returnee_override_and_handover_markup_is_escaped_on_office_pages(client, gate, clock, evil, demo):
    sign_on(client, guard_id=EVIL_GUARD, pin="2468")
    returnee = post(client, "/actions/returnee", {"name": SCRIPT, "phone": "13800000099", "id_last4": "123X",
                                                  "origin": "610113", "arrival": "2026-11-28",
                                                  "household": "<i>9</i>-=1-'--"})
    assert returnee.status_code == 200
    raw_markup_absent(returnee.get_data(as_text=True))
    refused = gate.check(Scan("in", token=demo.tokens["revoked"], temperature=36.5, lane="in"), clock.now()).event
    override = post(client, f"/actions/override/{refused['id']}", {"reason": "第一行\n<b>第二行</b> =1+1"})
    assert override.status_code == 302
    assert post(client, "/sign-off", {"pin": "2468", "note": LONG}).status_code == 302
    office_login(client)
    alerts = page(client, "/office/alerts")
    assert html.escape(SCRIPT, quote=False) in alerts and "&lt;b&gt;第二行&lt;/b&gt;" in alerts
    shifts = page(client, "/office/shifts?date=2026-11-29")
    assert html.escape(LONG, quote=False) in shifts
    events = page(client, f"/office/events?guard={EVIL_GUARD}")
    assert f"共 {len(IDS) + 6} 条" in events  # 2 sign_on, scans, returnee, refused scan, override, sign_off


def cells_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def assert_neutral(rows: list[list], sheet=None) -> None:
    for row in rows:
        for value in row:
            assert not (isinstance(value, str) and value.startswith(FORMULA)), value
    if sheet is not None:
        assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


def test_office_exports_neutralise_formulas(client, gate, evil):
    office_login(client)
    rows = cells_csv(client.get("/office/events.csv").data)
    assert_neutral(rows)
    subject = rows[0].index("对象")
    assert sorted(r[subject] for r in rows[1:] if r[subject]) == sorted(["'=1+2", "'+3", "'-4", "'@A1", "E10",
                                                                         "E5", "E6", "E7", "E8", "E9"])
    assert {r[rows[0].index("值班员")] for r in rows[1:]} == {"'@SUM(A1)"}
    sheet = load_workbook(io.BytesIO(client.get("/office/events.xlsx").data)).active
    values = [list(line) for line in sheet.values]
    assert_neutral(values, sheet)
    assert values[1:] == [[_typed(v) for v in row] for row in rows[1:]]


def _typed(value: str):
    """The CSV's text as openpyxl gives it back from the XLSX (numbers stay numbers)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value or None


def test_office_report_neutralises_formulas_and_escapes_html(client, gate, evil, demo, tmp_path):
    sign_on(client, guard_id=EVIL_GUARD, pin="2468")
    assert post(client, "/sign-off", {"pin": "2468", "note": "=HYPERLINK(\"http://x\") " + SCRIPT}).status_code == 302
    export = tmp_path / "gate.events"
    assert kiosk(demo.gate_home, "export", "--since", "0", "--out", str(export)).returncode == 0
    key = kiosk(demo.gate_home, "export-key").stdout.strip()
    assert kiosk(demo.office_home, "office", "gate", "add", "jinan-gate", "--export-key", key).returncode == 0
    assert kiosk(demo.office_home, "office", "import-events", str(export)).returncode == 0
    report = kiosk(demo.office_home, "office", "report", "--date", "2026-11-29", "--format", "csv")
    rows = list(csv.reader(io.StringIO(report.stdout)))
    assert_neutral(rows)
    morning = next(r for r in rows if r[2] == "morning")
    assert morning[14] == "'@SUM(A1)"
    assert morning[15] == "'@SUM(A1): =HYPERLINK(\"http://x\") " + SCRIPT
    xlsx = tmp_path / "report.xlsx"
    assert kiosk(demo.office_home, "office", "report", "--date", "2026-11-29", "--format", "xlsx",
                 "--out", str(xlsx)).returncode == 0
    book = load_workbook(xlsx)  # the daily report: the guard's name and id in the morning's duty
    values = [list(line) for line in book.active.values]
    assert_neutral(values, book.active)
    assert [r[1] for r in values if r[0] == "jinan-gate 早班"] == [
        "<b>门卫</b>(@SUM(A1)) 10:01–10:06；<b>门卫</b>(@SUM(A1)) 10:06–10:06"]
    page_html = kiosk(demo.office_home, "office", "report", "--date", "2026-11-29", "--format", "html").stdout
    raw_markup_absent(page_html)
    assert "&lt;b&gt;门卫&lt;/b&gt;(@SUM(A1))" in page_html


def test_both_exports_use_the_same_neutraliser():
    from web import event_query as web_query
    assert web_query.safe_cell is safe_cell
    assert [safe_cell(v) for v in ("\t=1", "\r=1", "=1", "ok", -2, None)] == ["'\t=1", "'\r=1", "'=1", "ok", -2, None]


SQL = ["'", "\"", "' OR '1'='1", "'); DROP TABLE events;--", "%", "_", "%%'--", "1; SELECT 1", "\\", "\x00"]
FILTERS = ["date", "shift", "lane", "direction", "outcome", "code", "guard", "page"]


def test_sql_metacharacters_in_every_filter_find_exactly_nothing(client, gate, evil):
    office_login(client)
    total = gate.db["events"].count
    for name in FILTERS:
        for value in SQL:
            response = client.get("/office/events", query_string={name: value})
            assert response.status_code == 200, (name, value)
            expected = total if name == "page" else 0  # a bad page number is page 1 of everything
            assert f"共 {expected} 条" in response.get_data(as_text=True), (name, value)
            rows = cells_csv(client.get("/office/events.csv", query_string={name: value}).data)
            assert len(rows) - 1 == (total if name == "page" else 0), (name, value)
    assert gate.db["events"].count == total
    # The same filters with real values still find exactly their rows.
    assert "共 %d 条" % len(IDS) in page(client, "/office/events?shift=morning&code=&outcome=allow&lane=in")
    assert PAGE_SIZE > total


def test_sql_metacharacters_in_api_parameters_are_refused_cleanly(client, gate, evil, clock):
    from kiosk.store import tokens
    _, secret = tokens.create_token(gate.db, "office", "office", clock.now())
    headers = {"Authorization": f"Bearer {secret}"}
    for name, path in (("since", "/api/v1/events"), ("limit", "/api/v1/events"), ("since", "/api/v1/shifts")):
        for value in SQL:
            response = client.get(path, query_string={name: value}, headers=headers)
            assert response.status_code == 400 and response.json["error"] == "bad_request", (path, name, value)
    lines = client.get("/api/v1/events?since=0&limit=5", headers=headers).data.decode().splitlines()
    assert len(lines) == 6 and json.loads(lines[-1]) == {"next": 5, "count": 5, "done": False}


def test_issued_pass_files_are_named_by_generated_pass_ids_only(demo, tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("编号,姓名,楼栋,单元,房号\n../x,<b>a</b>,1,1,101\n/etc,b,1,1,102\n", encoding="utf-8")
    refused = kiosk(demo.office_home, "office", "import", str(ledger), "--site", SITE)
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        f"{ledger}:{line}: id '{person_id}' may hold letters, digits, - and _ only (at most 32)"
        for line, person_id in ((2, "../x"), (3, "/etc"))]
    with Office.open(demo.office_home) as office:  # and should such ids reach the registry anyway:
        for person_id, room in (("../x", "101"), ("/etc", "102")):
            save_resident(office.db, Resident(person_id, "<b>a</b>", SITE, "1", "1", room))
    out = tmp_path / "out" / "passes"
    result = kiosk(demo.office_home, "office", "issue", "--site", SITE, "--person", "../x", "--person", "/etc",
                   "--out", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and names[-1] == "tokens.tsv"
    assert all(re.fullmatch(r"P[0-9A-F]{10}\.png", name) for name in names[:-1])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["passes"]  # nothing written beside it
    listing = [line.split("\t") for line in (out / "tokens.tsv").read_text(encoding="utf-8").splitlines()]
    assert sorted(row[2] for row in listing) == ["../x", "/etc"] and all(len(row) == 4 for row in listing)


@pytest.mark.parametrize("name", ["pass 1;$(id).png", "通行证 `rm -rf`.png", "-rf.png", "a'b\"c.png", "%s%n.png"])
def test_decode_handles_weird_file_names(demo, tmp_path, name):
    image = tmp_path / name
    shutil.copy(demo.root / "passes" / "resident.png", image)
    result = kiosk(demo.gate_home, "decode", "--json", "--", str(image))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["payloads"] == [demo.tokens["resident"]]
    missing = kiosk(demo.gate_home, "decode", "--", str(tmp_path / "../nope;.png"))
    assert missing.returncode == 1 and missing.stderr.endswith("nope;.png: error: no such file\n")
