"""The office page stays fast at a million events (issue 12): every query a page runs on
``gate_events`` is an index search, or walks an index in order under a LIMIT; totals are counted
up to a cap. Checked with EXPLAIN QUERY PLAN on the SQL each page really runs (the speed itself
is measured in bench/office_pages.py, docs/benchmarks.md)."""

from __future__ import annotations

import re

import pytest

from kiosk.core.clock import FixedClock
from kiosk.office.service import Office
from kiosk.store.office_store import open_office_store
from tests.web.office_day import at
from tests.web.test_office_web import logged_in, text
from web import create_app, office_query

PAGES = ["/?date=2026-11-29", "/events", "/events?site=longhai", "/events?code=fever", "/events?outcome=deny",
         "/events?start=2026-11-29T08:00&end=2026-11-29T12:00", "/events?person=张丽", "/events?person=R002",
         "/events?household=jinan:1-1-101", "/events?plate=陕H12345", "/events?gate=jinan-gate&lane=in",
         "/events?after=2026-11-29T04:00:00.000Z|jinan-gate|12", "/alerts", "/alerts?open=1", "/alerts?site=jinan",
         "/inside", "/shifts?date=2026-11-29", "/report?date=2026-11-29", "/trace?person=张丽",
         "/trace?gate=longhai-gate&start=2026-11-29T08:00&end=2026-11-29T11:00", "/events.csv?code=fever"]
ALIAS = re.compile(r"\bgate_events\s+(?:AS\s+)?(\w+)", re.I)


@pytest.fixture(scope="module")
def traced(office_day):
    """Every statement the office page runs, as run (parameters bound)."""
    statements: list[str] = []
    def open_traced(config):
        opened = open_office_store(config)  # this office's store is its SQLite file
        opened.conn.set_trace_callback(statements.append)
        return opened

    app = create_app({"KIOSK_HOME": str(office_day), "CLOCK": FixedClock(at(23, 59)), "TESTING": True})
    return app, statements, open_traced


def unbounded_steps(conn, sql: str) -> list[str]:
    """The plan's steps that may read all of gate_events: a scan (of the table or a whole index)
    not stopped by a LIMIT, or stopped by one only after sorting everything it read."""
    aliases = {"gate_events", *ALIAS.findall(sql)} - {"WHERE", "ORDER", "LEFT", "JOIN", "ON"}
    plan = [(parent, step) for _, parent, _, step in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    sorted_under = {parent for parent, step in plan if "TEMP B-TREE" in step}
    return [step for parent, step in plan if step.split()[:1] == ["SCAN"] and step.split()[1] in aliases
            and (" LIMIT " not in sql.upper() or parent in sorted_under)]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_query_is_an_index_search_or_bounded(traced, office_day, monkeypatch, url):
    app, statements, open_traced = traced
    monkeypatch.setattr("web.office_web.open_office_store", open_traced)
    client = logged_in(app)
    statements.clear()
    assert client.get(url).status_code == 200
    on_events = [sql for sql in statements if "gate_events" in sql]
    assert on_events, statements
    with Office.open(office_day) as office:
        problems = {sql: steps for sql in on_events if (steps := unbounded_steps(office.db.conn, sql))}
    assert problems == {}


def test_totals_are_exact_up_to_the_cap_then_shown_as_more(app_client, office_day, monkeypatch):
    with Office.open(office_day) as office:
        everything = office_query.OfficeFilter()
        assert office_query.count_events(office.db, everything) == 32
        assert office_query.count_events(office.db, everything, cap=10) == 11
        assert office_query.count_events(office.db, office_query.OfficeFilter(code="fever"), cap=1) == 2
        assert office_query.count_open_alerts(office.db) == 9
        assert office_query.count_open_alerts(office.db, cap=5) == 6
    assert "共 32 条" in text(app_client.get("/events"))
    assert "未确认警报 9 条" in text(app_client.get("/?date=2026-11-29"))
    monkeypatch.setattr("web.office_query.COUNT_CAP", 10)
    monkeypatch.setattr("web.office_query.OPEN_ALERTS_CAP", 5)
    assert "共 10+ 条" in text(app_client.get("/events"))
    assert "共 2 条" in text(app_client.get("/events?code=fever"))
    assert "未确认警报 5+ 条" in text(app_client.get("/?date=2026-11-29"))
    monkeypatch.setattr("web.office_query.COUNT_CAP", 10_000)
    assert "共 10,000+ 条" not in text(app_client.get("/events"))


@pytest.fixture
def app_client(traced):
    return logged_in(traced[0])
