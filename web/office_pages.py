"""Office pages (office login, read-only): events, exports, shift logs, alerts, chart."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from kiosk.core.protocol import MAX_SEQ
from kiosk.core.shifts import shifts_of_day
from kiosk.store.shift_logs import shift_log
from web import asked_day, get_gate, whole_number
from web.alert_list import AlertError, acknowledge, alerts
from web.auth import office_required
from web.chart import bars, hourly_counts
from web.event_query import PAGE_SIZE, EventFilter, count_events, find_events, to_csv, to_xlsx

bp = Blueprint("office", __name__, url_prefix="/office")
MAX_PAGE = MAX_SEQ // PAGE_SIZE  # the OFFSET must fit SQLite's INTEGER
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day() -> date:
    """The ?date= asked for, else today at the gate."""
    gate = get_gate()
    return asked_day(lambda: date.fromisoformat(gate.stamp(gate.now()).local[:10]))


@bp.route("/")
@office_required
def home():
    return redirect(url_for("office.events"))


@bp.route("/events")
@office_required
def events():
    gate, flt = get_gate(), EventFilter.from_args(request.args)
    page = max(1, whole_number(request.args.get("page"), 1, MAX_PAGE))
    total = count_events(gate.db, flt)
    return render_template("office/events.html", rows=find_events(gate.db, flt, page), flt=flt, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), total=total, lanes=gate.config["lanes"],
                           guards=list(gate.db.query("SELECT id FROM guards ORDER BY id")))


@bp.route("/events.<fmt>")
@office_required
def export(fmt):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    rows = find_events(get_gate().db, EventFilter.from_args(request.args))
    body = (to_csv if fmt == "csv" else to_xlsx)(rows, g.lang)
    return Response(body, mimetype="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
                    headers={"Content-Disposition": f"attachment; filename=events.{fmt}"})


@bp.route("/shifts")
@office_required
def shifts():
    gate, day = get_gate(), _day()
    logs = [shift_log(gate.db, ref) for ref in shifts_of_day(day, gate.shift_defs, gate.tz)]
    return render_template("office/shifts.html", logs=logs, day=day)


@bp.route("/alerts")
@office_required
def alert_list():
    return render_template("office/alerts.html", alerts=alerts(get_gate().db))


@bp.route("/alerts/<event_id>/ack", methods=["POST"])
@office_required
def ack(event_id):
    gate = get_gate()
    try:
        acknowledge(gate.db, event_id, g.office["name"], request.form.get("note", ""), gate.now())
    except AlertError:
        abort(404)
    return redirect(url_for("office.alert_list"))


@bp.route("/chart")
@office_required
def chart():
    day = _day()
    return render_template("office/chart.html", chart=bars(hourly_counts(get_gate().db, day)), day=day)
