"""The office's daily report for the street office, per compound, community or street, in Chinese
(Flask-free).

``daily_report`` gathers one local calendar day from the office's copy of every gate's events
and its registry; ``to_html`` (printable), ``to_xlsx`` and ``to_pdf`` lay the same figures out.
The office page and ``kiosk office report`` both call these, so they cannot disagree.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlite_utils

from kiosk.core import i18n, pdf_fonts
from kiosk.core.cells import safe_cell
from kiosk.core.clock import utc_text
from kiosk.core.shifts import DUTY_KINDS, DutyPeriods, ShiftDef, duty_within, shifts_of_day, summarise
from kiosk.store.levels import LEVELS, Levels
from web.office_query import FOLLOW_UPS, PASSAGE_KINDS, inside_now, marks

PRINT_CSS = Path(__file__).with_name("static") / "report-print.css"
HEALTH_LISTS = ("home_isolation", "central_quarantine", "health_monitoring")
RISK_LEVELS = ("high", "medium", "low")


def daily_report(db: sqlite_utils.Database, day: date, levels: Levels, defs: list[ShiftDef], tz_name: str,
                 level: str = "site", key: str = "", with_shifts: bool = True) -> dict:
    """Every figure of the day's report at ``level``: per compound, per community (its compounds
    added up) or for the whole street; ``key`` narrows it to one compound or community. The
    overview, which shows no shift logs, leaves them out (``with_shifts``): they cost most."""
    if level not in LEVELS:
        raise ValueError(f"report level must be one of {', '.join(LEVELS)}, not {level!r}")
    end = (day + timedelta(days=1)).isoformat()
    groups = _groups(levels, level, key)
    sites = [site for _, _, members in groups for site in members]
    gates = _gates_by_site(db, day) if with_shifts else {}
    compounds = {site: _compound(db, day, site, gates.get(site, []), defs, tz_name, end) for site in sites}
    return {"date": day.isoformat(), "level": level,
            "compounds": [dict(_added_up([compounds[s] for s in members]), site=part_id, name=name, level=level,
                               sites=list(members)) for part_id, name, members in groups]}


def _groups(levels: Levels, level: str, key: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(id, name, compounds) of each part of the report."""
    if level == "district":
        return [("district", levels.district, levels.sites)]
    if level == "community":
        return [(c.id, c.name, c.sites) for c in levels.communities if key in ("", c.id)]
    return [(site, levels.site_name(site), (site,)) for site in levels.sites if key in ("", site)]


def _added_up(parts: list[dict]) -> dict:
    """Compounds' figures as one: counts added, lists joined in time order, persons counted once."""
    if len(parts) == 1:
        return parts[0]

    def added(name: str) -> dict:
        return dict(sum((Counter(p[name]) for p in parts), Counter()))

    def joined(name: str) -> list:
        return sorted((item for p in parts for item in p[name]), key=lambda item: (item["time"], item["gate"]))

    persons = set().union(*(p["persons"] for p in parts))
    return {"entries": {"persons": 0, "vehicles": 0, **added("entries")},
            "exits": {"persons": 0, "vehicles": 0, **added("exits")},
            "persons": persons, "distinct_persons": len(persons), "fevers": joined("fevers"),
            "returnees": {level: sum(p["returnees"][level] for p in parts) for level in RISK_LEVELS},
            "health": {status: [name for p in parts for name in p["health"][status]] for status in HEALTH_LISTS},
            "refusals": dict(sorted(added("refusals").items())), "overrides": joined("overrides"),
            "shifts": [s for p in parts for s in p["shifts"]],
            "inside_at_end": {"persons": 0, "vehicles": 0, **added("inside_at_end")}}


# The day's events by their local date, found through the time index: UTC a day wider either
# side holds every local day (no zone is a day off UTC).
ON_DAY = "substr(e.ts_local, 1, 10) = ? AND e.ts_utc >= ? AND e.ts_utc < ?"


def _on_day(day: date) -> list[str]:
    return [day.isoformat(), (day - timedelta(days=1)).isoformat(), (day + timedelta(days=2)).isoformat()]


def _events(db: sqlite_utils.Database, day: date, site: str, where: str = "1 = 1", params=()) -> list[dict]:
    return list(db.query(
        "SELECT e.*, p.name AS person_name FROM gate_events e "
        "LEFT JOIN persons p ON p.id = e.subject_id AND COALESCE(e.subject_kind, '') != 'vehicle' "
        f"WHERE {ON_DAY} AND e.site_id = ? AND {where} ORDER BY e.ts_utc, e.gate, e.seq",
        [*_on_day(day), site, *params]))


def _gates_by_site(db, day: date) -> dict[str, list[str]]:
    """Each compound's gates, by name: where the gate last said it stands (``gates.site_id``, kept
    by every pull) and any gate with events there that day. Read once for the whole report: at a
    district's hundreds of gates, asking per compound and gate cost a scan of each gate's log."""
    pairs = {tuple(row) for row in db.execute("SELECT site_id, name FROM gates WHERE site_id IS NOT NULL").fetchall()}
    pairs |= {tuple(row) for row in db.execute(f"SELECT DISTINCT e.site_id, e.gate FROM gate_events e WHERE {ON_DAY}",
                                               _on_day(day)).fetchall()}
    sites: dict[str, list[str]] = {}
    for site, gate in sorted(pairs):
        sites.setdefault(site, []).append(gate)
    return sites


def _compound(db, day: date, site: str, gates: list[str], defs, tz_name: str, end: str) -> dict:
    events = _events(db, day, site)
    totals = summarise(events)
    passages = [e for e in events if e["kind"] in PASSAGE_KINDS and e["outcome"] == "allow"
                and e["subject_id"] and e["subject_kind"] != "vehicle"]
    inside = inside_now(db, [site], until=end).get(site, {"persons": [], "vehicles": []})
    persons = {e["subject_id"] for e in passages}
    return {
        "entries": totals["entries"], "exits": totals["exits"],
        "persons": persons, "distinct_persons": len(persons),
        "fevers": _fevers(db, day, site),
        "returnees": _returnees(events),
        "health": _health(db, site, day, tz_name),
        "refusals": totals["refusals_by_code"],
        "overrides": [{"time": e["ts_local"][11:16], "gate": e["gate"], "name": e["person_name"] or e["subject_id"]
                       or e["plate"] or "", "reason": json.loads(e["data"]).get("reason", ""),
                       "guard_id": e["guard_id"] or ""} for e in events if e["kind"] == "override"],
        "shifts": _shifts(db, day, site, gates, defs, tz_name),
        "inside_at_end": {"persons": len(inside["persons"]), "vehicles": len(inside["vehicles"])},
    }


def _fevers(db, day: date, site: str) -> list[dict]:
    rows = db.query(
        f"SELECT e.*, p.name AS person_name {FOLLOW_UPS} FROM gate_events e "
        "LEFT JOIN persons p ON p.id = e.subject_id AND COALESCE(e.subject_kind, '') != 'vehicle' "
        f"WHERE {ON_DAY} AND e.site_id = ? AND e.outcome = 'deny' "
        "AND EXISTS (SELECT 1 FROM json_each(e.codes) WHERE value = 'fever') ORDER BY e.ts_utc, e.gate, e.seq",
        [*_on_day(day), site])
    fevers = []
    for row in rows:
        remeasure, override = json.loads(row["remeasure_json"] or "null"), json.loads(row["override_json"] or "null")
        fevers.append({"time": row["ts_local"][11:16], "gate": row["gate"],
                       "name": row["person_name"] or row["subject_id"] or "", "temperature": row["temperature"],
                       "remeasured": remeasure["temperature"] if remeasure else None,
                       "remeasure_outcome": remeasure["outcome"] if remeasure else None,
                       "overridden": bool(override)})
    return fevers


def _returnees(events: list[dict]) -> dict[str, int]:
    levels = Counter(json.loads(e["data"]).get("level") for e in events if e["kind"] == "returnee")
    return {level: levels[level] for level in RISK_LEVELS}


def _health(db, site: str, day: date, tz_name: str) -> dict[str, list[str]]:
    """Persons of the compound per health measure on that day: the periods of the office's
    records (health_periods: each status from its start to its end date or the next status)
    that overlap the local day."""
    zone = ZoneInfo(tz_name)
    start, end = (utc_text(datetime.combine(d, time(0), tzinfo=zone)) for d in (day, day + timedelta(days=1)))
    rows = db.query("SELECT DISTINCT hp.status, p.id, p.name FROM health_periods hp "
                    "JOIN persons p ON p.id = hp.person_id JOIN households h ON h.id = p.household_id "
                    "WHERE h.site_id = ? AND (hp.since IS NULL OR hp.since < ?) AND (hp.until IS NULL OR hp.until > ?) "
                    "AND (hp.ended_utc IS NULL OR hp.ended_utc > ?) ORDER BY p.id", [site, end, start, start])
    lists: dict[str, list[str]] = {status: [] for status in HEALTH_LISTS}
    for row in rows:
        if row["status"] in lists:
            lists[row["status"]].append(row["name"])
    return lists


def _shifts(db, day: date, site: str, gates: list[str], defs, tz_name: str) -> list[dict]:
    """Per gate of the compound and shift: the guards on duty (name, times) and the counts."""
    logs = shift_logs(db, gates, day, defs, tz_name)
    return [{"gate": gate, "shift": ref.shift.key, "name_zh": ref.name_zh, "name_en": ref.name_en,
             "guards": log["guards"], "entries": log["entries"], "exits": log["exits"],
             "handover_notes": log["handover_notes"]} for gate in gates for ref, log in logs[gate]]


def shift_logs(db, gates: list[str], day: date, defs, tz_name: str) -> dict[str, list[tuple]]:
    """Per gate, (shift, log) of each shift of the day: the counts from the shift's own events,
    the guards from every sign-on and sign-off since the day before, cut to the shift (a guard
    signed on before the shift and still on is on it too: kiosk.core.shifts.duty_within). Two
    queries for all the gates: at a district's hundreds, one per gate and shift was most of a
    report's time."""
    if not gates:
        return {}
    refs = shifts_of_day(day, defs, tz_name)
    since = shifts_of_day(day - timedelta(days=1), defs, tz_name) + refs
    duty = {gate: DutyPeriods() for gate in gates}
    for event in db.query(f"SELECT * FROM gate_events WHERE gate IN ({marks(gates)}) "
                          f"AND shift_id IN ({marks(since)}) AND kind IN ({marks(DUTY_KINDS)}) "
                          "AND guard_id IS NOT NULL ORDER BY gate, ts_utc, seq",
                          [*gates, *(ref.id for ref in since), *DUTY_KINDS]):
        duty[event["gate"]].add(event, json.loads(event["data"]))
    events: dict[tuple[str, str], list[dict]] = {(gate, ref.id): [] for gate in gates for ref in refs}
    for event in db.query(f"SELECT * FROM gate_events WHERE gate IN ({marks(gates)}) "
                          f"AND shift_id IN ({marks(refs)}) ORDER BY gate, ts_utc, seq",
                          [*gates, *(ref.id for ref in refs)]):
        events[(event["gate"], event["shift_id"])].append(event)
    return {gate: [(ref, {**summarise(events[(gate, ref.id)]), "guards": duty_within(duty[gate].periods, ref)})
                   for ref in refs] for gate in gates}


def duty_text(period: dict) -> str:
    """王建国(G001) 08:00–11:30; an open end is left blank."""
    on, off = (period["on"] or "")[11:16], (period["off"] or "")[11:16]
    return f"{period['name'] or period['guard_id']}({period['guard_id']}) {on}–{off}"


# --- layouts ---------------------------------------------------------------------------

def lines(report: dict, language: str = "zh") -> list[tuple[str, list[tuple[str, str]]]]:
    """The report as titled sections of (label, value) pairs: what the XLSX and PDF print."""
    t = partial(i18n.t, language=language)
    sections = []
    for c in report["compounds"]:
        rows = [(t("office_web.report.entries"), t("office_web.people_vehicles", persons=c["entries"]["persons"],
                                                   vehicles=c["entries"]["vehicles"])),
                (t("office_web.report.exits"), t("office_web.people_vehicles", persons=c["exits"]["persons"],
                                                 vehicles=c["exits"]["vehicles"])),
                (t("office_web.report.distinct_persons"), str(c["distinct_persons"])),
                (t("office_web.report.inside_at_end"), t("office_web.people_vehicles", **c["inside_at_end"])),
                (t("office_web.report.fevers"), str(len(c["fevers"])))]
        rows += [("", fever_text(f, t)) for f in c["fevers"]]
        rows.append((t("office_web.report.returnees"), t("sep.list").join(
            t("office_web.risk_count", level=t(f"office_web.risk.{level}"), n=n) for level, n in c["returnees"].items())))
        rows += [(t(f"office_web.health.{status}"), f"{len(names)}：{t('sep.list').join(names)}" if names else "0")
                 for status, names in c["health"].items()]
        rows.append((t("levels.health_source"), t("levels.health_source_text", date=report["date"])))
        rows.append((t("office_web.report.refusals"), t("sep.list").join(
            f"{t('code.' + code)} × {n}" for code, n in c["refusals"].items()) or "0"))
        rows.append((t("office_web.report.overrides"), str(len(c["overrides"]))))
        rows += [("", f"{o['time']} {o['gate']} {o['name']}：{o['reason']}") for o in c["overrides"]]
        for s in c["shifts"]:
            rows.append((f"{s['gate']} {s['name_zh'] if language == 'zh' else s['name_en']}",
                         t("sep.list").join(duty_text(p) for p in s["guards"]) or t("office_web.nobody")))
        name = c["name"] or t("levels.district_default")
        sections.append((t(f"levels.title.{c['level']}", name=name, date=report["date"]), rows))
    return sections


def fever_text(fever: dict, t) -> str:
    text = f"{fever['time']} {fever['gate']} {fever['name']} {fever['temperature']}℃"
    if fever["remeasured"] is not None:
        text += " " + t("office_web.report.remeasured", temperature=fever["remeasured"],
                        outcome=t(f"outcome.{fever['remeasure_outcome']}"))
    if fever["overridden"]:
        text += " " + t("office_web.report.overridden")
    return text


def to_html(report: dict, language: str = "zh", style_href: str | None = None) -> str:
    """The printable page. Served, it links its print style (``style_href``: the page's CSP allows
    no inline style); written to a file (the CLI, a download), the style is put inside, so the
    file stands alone."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(["html"]))
    link = style_href or "report-print.css"
    page = env.get_template("office_web/report_print.html").render(
        report=report, sections=lines(report, language), lang=language, style_href=link,
        t=partial(i18n.t, language=language))
    if style_href:
        return page
    return page.replace(f'<link rel="stylesheet" href="{link}">',
                        f"<style>{PRINT_CSS.read_text(encoding='utf-8')}</style>", 1)


def to_xlsx(report: dict, language: str = "zh") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = i18n.t("office_web.report.sheet", language)
    sheet.append([i18n.t("office_web.report.title", language, date=report["date"])])
    sheet["A1"].font = Font(bold=True, size=14)
    for title, rows in lines(report, language):
        sheet.append([])
        sheet.append([title])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        for label, value in rows:
            sheet.append([safe_cell(label), safe_cell(value)])
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 90
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_pdf(report: dict, language: str = "zh") -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf_fonts.use_cjk_font(pdf)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(pdf_fonts.FAMILY, size=16)
    pdf.cell(0, 10, i18n.t("office_web.report.title", language, date=report["date"]),
             new_x="LMARGIN", new_y="NEXT")
    for title, rows in lines(report, language):
        pdf.set_font(pdf_fonts.FAMILY, size=13)
        pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(pdf_fonts.FAMILY, size=10)
        for label, value in rows:
            pdf.cell(45, 6, label)
            pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())


FORMATS = {"html": ("text/html; charset=utf-8", lambda r, lang: to_html(r, lang).encode("utf-8")),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
           "pdf": ("application/pdf", to_pdf)}


def render(report: dict, fmt: str, language: str = "zh") -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"report format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return FORMATS[fmt][1](report, language)
