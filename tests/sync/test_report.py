"""`kiosk office report`: shift logs and daily totals across gates from the office's copy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from sync_helpers import kiosk

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.service import Gate
from kiosk.office.pull import add_gate
from kiosk.office.service import Office
from tests.conftest import NOW, STORES

pytestmark = pytest.mark.parametrize("office_store", STORES, indirect=True)  # each test on both office stores

NOTE = '=HYPERLINK("http://x")<script>'


def record_a_morning(community):
    clock = FixedClock(NOW)
    with Gate.open(community.gate_home, clock=clock) as gate:
        gate.sign_on("G001", "1234", "in", clock.now())
        for role, direction, temperature in [("resident", "in", 36.5), ("household_member", "in", 37.9),
                                             ("revoked", "in", 36.4), ("second_resident", "out", None)]:
            clock.advance(minutes=5)
            gate.check(Scan(direction=direction, token=community.tokens[role], temperature=temperature,
                            lane=direction, source="camera"))
        clock.advance(minutes=5)
        gate.sign_off("G001", "1234", clock.now(), NOTE)
        clock.advance(hours=8)  # afternoon shift: one more entry
        gate.check(Scan(direction="in", token=community.tokens["resident"], temperature=36.6, lane="in",
                        source="camera"))


def import_to_office(community, tmp_path):
    out = tmp_path / "x.events"
    assert kiosk(community.gate_home, "export", "--out", str(out)).returncode == 0
    with Office.open(community.office_home) as office:
        add_gate(office, "jinan-gate", "", "", kiosk(community.gate_home, "export-key").stdout.strip())
    assert kiosk(community.office_home, "office", "import-events", str(out)).returncode == 0


def test_csv_report_has_shifts_totals_and_neutralised_formulas(community, office_store, tmp_path):
    record_a_morning(community)
    import_to_office(community, tmp_path)
    result = kiosk(community.office_home, "office", "report", "--date", "2026-11-29", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["shift"], r["entries_persons"], r["exits_persons"], r["refusals"], r["fevers"]) for r in rows] == [
        ("night", "0", "0", "0", "0"), ("morning", "1", "1", "2", "1"), ("afternoon", "1", "0", "0", "0"),
        ("total", "2", "1", "2", "1")]
    assert rows[1]["guards"] == "G001"
    assert rows[1]["handover_notes"] == "G001: " + NOTE  # starts with the guard id: harmless
    only = kiosk(community.office_home, "office", "report", "--date", "2026-11-29", "--shift", "1",
                 "--gate", "jinan-gate")
    assert [r["shift"] for r in csv.DictReader(io.StringIO(only.stdout))] == ["morning", "total"]


def test_daily_report_xlsx_and_html_escape_and_neutralise(community, office_store, tmp_path):
    record_a_morning(community)
    import_to_office(community, tmp_path)
    with Office.open(community.office_home) as office:  # a name that looks like a formula, one that looks like markup
        office.db.conn.execute("UPDATE persons SET name = '=1+1' WHERE id = 'R002'")
        office.db.conn.execute("UPDATE persons SET name = '<script>' WHERE id = 'R003'")
        office.db.conn.execute("UPDATE health SET status = 'home_isolation' WHERE person_id = 'R007'")
    out = tmp_path / "r.xlsx"
    assert kiosk(community.office_home, "office", "report", "--date", "2026-11-29", "--format", "xlsx",
                 "--out", str(out)).returncode == 0
    cells = {row[0]: row[1] for row in openpyxl.load_workbook(out).active.iter_rows(values_only=True) if row[0]}
    assert cells["进入"] == "2人 0车" and cells["发热拦截"] == "1"
    fever = [row[1] for row in openpyxl.load_workbook(out).active.iter_rows(values_only=True)
             if row[1] and "℃" in str(row[1])]
    assert fever == ["10:10 jinan-gate =1+1 37.9℃"]  # not a formula: it starts with the time
    assert cells["居家隔离"] == "2：<script>；周敏"
    html = kiosk(community.office_home, "office", "report", "--date", "2026-11-29", "--format", "html").stdout
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert kiosk(community.office_home, "office", "report", "--date", "2026-11-29",
                 "--format", "xlsx").returncode == 2  # needs --out


def test_report_of_a_day_without_events_has_zero_rows_per_shift(community, office_store, tmp_path):
    record_a_morning(community)
    import_to_office(community, tmp_path)
    day = (NOW - timedelta(days=3)).date().isoformat()
    rows = list(csv.DictReader(io.StringIO(kiosk(community.office_home, "office", "report", "--date", day).stdout)))
    assert [(r["shift"], r["events"]) for r in rows] == [("night", "0"), ("morning", "0"), ("afternoon", "0"),
                                                         ("total", "0")]


def test_a_gate_known_only_from_usb_files_has_its_shift_rows_on_a_quiet_day(community, office_store, tmp_path):
    """The daily report lists each compound's gates from where they stand: a USB-only gate has no
    health answer, so its imported events say it; on a day without its events its shifts show, empty."""
    from kiosk.core.shifts import shift_defs
    from kiosk.store.levels import Levels
    from web.daily_report import daily_report

    record_a_morning(community)
    import_to_office(community, tmp_path)
    with Office.open(community.office_home) as office:
        assert office.store.execute("SELECT site_id FROM gates WHERE name = 'jinan-gate'").fetchone()[0] == "jinan"
        quiet = (NOW - timedelta(days=3)).date()
        report = daily_report(office.store, quiet, Levels.of(office.config), shift_defs(office.config["shifts"]),
                              office.config["timezone"])
    [jinan] = [c for c in report["compounds"] if c["site"] == "jinan"]
    assert [(s["gate"], s["shift"], s["entries"], s["exits"], s["guards"]) for s in jinan["shifts"]] == [
        ("jinan-gate", shift, {"persons": 0, "vehicles": 0}, {"persons": 0, "vehicles": 0}, [])
        for shift in ("night", "morning", "afternoon")]
