"""The office's own web page, served when ``kiosk serve`` runs on an office folder.

Over every gate the office pulls and both compounds: an overview, events with filters and
exports, shift logs, alerts with acknowledgement, who is inside now, contact tracing (流调)
and the daily report. Logins are the office folder's web users: ``office`` reads and
acknowledges alerts, ``viewer`` only reads.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import flask
from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, request, session, url_for

from kiosk.core.clock import SystemClock, parse_utc
from kiosk.core.codes import CODES
from kiosk.core.shifts import shift_defs
from kiosk.store import office_security, web_sessions, web_users
from kiosk.store.guards import GuardError
from kiosk.store.levels import LEVELS, Levels
from kiosk.store.office_store import open_office_store
from web import alert_list, asked_day, daily_report, office_export, office_query
from web.auth import checked_login, fresh_session, status_of
from web.office_query import PAGE_SIZE, OfficeFilter, cursor_of, find_alerts, find_events, inside_now

bp = Blueprint("office_web", __name__)
ROLES = web_users.OFFICE_ROLES
EXPORT_LIMIT = 200_000  # rows in one export; narrower filters for more


# --- the request's office database and clock -------------------------------------------

def config():
    return current_app.extensions["kiosk_config"]


def db():
    if "office_db" not in g:
        g.office_db = open_office_store(config())
    return g.office_db


def levels() -> Levels:
    if "office_levels" not in g:
        g.office_levels = Levels.of(config())
    return g.office_levels


@bp.context_processor
def _filter_lists() -> dict:
    return {"codes": list(CODES), "levels": levels(), "site_name": levels().site_name,
            "community_name": levels().community_name}


@bp.teardown_app_request
def _close(_exc: BaseException | None) -> None:
    opened = g.pop("office_db", None)
    if opened is not None:
        opened.conn.close()


def now() -> datetime:
    return (current_app.config["CLOCK"] or SystemClock()).now()


def tz() -> ZoneInfo:
    return ZoneInfo(config()["timezone"])


def sites() -> list[str]:
    return list(levels().sites)


def local_minute(utc: str | None) -> str:
    return parse_utc(utc).astimezone(tz()).strftime("%Y-%m-%d %H:%M") if utc else ""


def capped(count: int, cap: int) -> str:
    """A count made up to ``cap`` + 1: "10,000+" beyond the cap."""
    return f"{cap:,}+" if count > cap else str(count)


def _day() -> date:
    return asked_day(lambda: now().astimezone(tz()).date())


# --- logins ----------------------------------------------------------------------------

def login_required(view):
    """A live server-side session (kiosk.store.web_sessions): logout and user removal end it, and
    the role comes from the database on every request, never from the cookie."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        g.user = web_sessions.session_user(db(), session.get("office_session"), now())
        if g.user is None or g.user["role"] not in ROLES:
            if request.method == "GET":
                return redirect(url_for("office_web.login", next=request.path))
            abort(401)
        return view(**kwargs)
    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            user = checked_login(f"user:{name}", lambda: web_users.authenticate(
                db(), name, request.form.get("password", ""), now()))
        except GuardError as exc:
            error = exc.code
        else:
            fresh_session(office_session=web_sessions.open_session(db(), user["name"], now()),
                          web_user=user["name"], web_role=user["role"])  # names for the pages only
            return redirect(url_for("office_web.home"))
    return flask.render_template("login.html", error=error), status_of(error)


@bp.route("/logout", methods=["POST"])
def logout():
    web_sessions.revoke(db(), session.get("office_session"), now())
    fresh_session()
    return redirect(url_for("office_web.login"))


@bp.route("/api/v1/health")
def health():
    """For process supervision and tests: the office page answers."""
    return jsonify(ok=True, role="office")


# --- pages -----------------------------------------------------------------------------

@bp.route("/")
@login_required
def home():
    inside = inside_now(db(), sites())
    gates = [dict(row, contact=local_minute(row["last_contact_utc"]))
             for row in db().query("SELECT name, site_id, last_contact_utc, chain_broken FROM gates ORDER BY name")]
    report = daily_report.daily_report(db(), _day(), levels(), shift_defs(config()["shifts"]), config()["timezone"],
                                       _level(), with_shifts=False)
    for part in report["compounds"]:  # who is inside now, added up over the part's compounds
        part["inside_now"] = {kind: sum(len(inside.get(site, {}).get(kind, [])) for site in part["sites"])
                              for kind in ("persons", "vehicles")}
    cap = office_query.OPEN_ALERTS_CAP
    open_alerts = capped(office_query.count_open_alerts(db(), cap), cap)
    return flask.render_template("office_web/home.html", inside=inside, gates=gates, report=report,
                           open_alerts=open_alerts, sites=sites(), level=_level())


@bp.route("/events")
@login_required
def events():
    return _event_page("office_web/events.html", OfficeFilter.from_args(request.args, levels()))


@bp.route("/trace")
@login_required
def trace():
    """Contact tracing: one person's or household's passages over a range, or a gate's window."""
    flt = OfficeFilter.from_args({**request.args.to_dict(), "kind": "passages"}, levels())
    if not (flt.person or flt.household or flt.plate or flt.gate):
        return flask.render_template("office_web/trace.html", flt=flt, rows=None, choices=office_query.choices(db(), sites()))
    return _event_page("office_web/trace.html", flt)


def _event_page(template: str, flt: OfficeFilter):
    after = request.args.get("after", "")
    rows = find_events(db(), flt, after, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    cap = office_query.COUNT_CAP
    total = capped(office_query.count_events(db(), flt, cap), cap)
    return flask.render_template(template, rows=rows, flt=flt, total=total, after=after,
                           next_cursor=cursor_of(rows[-1]) if more else None, choices=office_query.choices(db(), sites()))


@bp.route("/events.<fmt>")
@login_required
def export(fmt):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    flt = OfficeFilter.from_args(request.args, levels())
    rows = [dict(row, site_name=levels().site_name(row["site_id"])) for row in find_events(db(), flt, limit=EXPORT_LIMIT)]
    body = (office_export.to_csv(rows, g.lang) if fmt == "csv" else office_export.to_xlsx(rows, g.lang))
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else daily_report.FORMATS["xlsx"][0]
    name = "trace" if flt.kind == "passages" else "events"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}.{fmt}"})


@bp.route("/shifts")
@login_required
def shifts():
    day = _day()
    gates = [row["name"] for row in db().query("SELECT name FROM gates ORDER BY name")]
    by_gate = daily_report.shift_logs(db(), gates, day, shift_defs(config()["shifts"]), config()["timezone"])
    logs = [{"gate": gate, "ref": ref, **log} for gate in gates for ref, log in by_gate[gate]]
    return flask.render_template("office_web/shifts.html", logs=logs, day=day, duty_text=daily_report.duty_text)


@bp.route("/alerts")
@login_required
def alerts():
    flt = OfficeFilter.from_args(request.args, levels())
    open_only = request.args.get("open") == "1"
    after = request.args.get("after", "")
    rows = find_alerts(db(), flt, open_only, after, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return flask.render_template("office_web/alerts.html", rows=rows, flt=flt, open_only=open_only, after=after,
                           next_cursor=cursor_of(rows[-1]) if more else None, choices=office_query.choices(db(), sites()),
                           may_ack=g.user["role"] == "office")


@bp.route("/alerts/<event_id>/ack", methods=["POST"])
@login_required
def ack(event_id):
    if g.user["role"] != "office":
        abort(403)  # a viewer reads only
    try:
        alert_list.acknowledge(db(), event_id, g.user["name"], request.form.get("note", ""), now(), "gate_events")
    except alert_list.AlertError:
        abort(404)
    return redirect(request.form.get("back") or url_for("office_web.alerts"))


@bp.route("/security")
@login_required
def security():
    """The office page's failed logins, newest first (office users only: names tried, addresses)."""
    if g.user["role"] != "office":
        abort(403)
    rows = [dict(row, time=local_minute(row["ts_utc"])) for row in office_security.recent(db())]
    return flask.render_template("office_web/security.html", rows=rows)


@bp.route("/inside")
@login_required
def inside():
    return flask.render_template("office_web/inside.html", inside=inside_now(db(), sites()), sites=sites())


@bp.route("/report")
@login_required
def report():
    day = _day()
    data = _report(day)
    return flask.render_template("office_web/report.html", report=data, sections=daily_report.lines(data, g.lang),
                           day=day, level=_level(), key=_level_key())


@bp.route("/report.<fmt>")
@login_required
def report_file(fmt):
    if fmt not in daily_report.FORMATS:
        abort(404)
    day = _day()
    data = _report(day)
    if fmt == "html":  # shown in the browser: the print style from /static (no inline style under the CSP)
        body = daily_report.to_html(data, g.lang, url_for("static", filename="report-print.css")).encode("utf-8")
    else:
        body = daily_report.render(data, fmt, g.lang)
    disposition = "inline" if fmt == "html" else f"attachment; filename=report-{day.isoformat()}.{fmt}"
    return Response(body, mimetype=daily_report.FORMATS[fmt][0], headers={"Content-Disposition": disposition})


def _level() -> str:
    """The level asked for (``?level=site|community|district``); by compound unless said."""
    level = request.args.get("level", "")
    return level if level in LEVELS else "site"


def _level_key() -> str:
    """The one compound (``?site=``) or community (``?community=``) asked for, or '' for all."""
    return request.args.get({"site": "site", "community": "community"}.get(_level(), ""), "")


def _report(day: date) -> dict:
    return daily_report.daily_report(db(), day, levels(), shift_defs(config()["shifts"]), config()["timezone"],
                                     _level(), _level_key())
