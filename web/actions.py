"""Guard actions on the touchscreen: manual check, temperature, override, returnee, vehicle.

Every view needs a signed-on guard (``guard_required``) and a CSRF token on POST.
"""

from __future__ import annotations

from itertools import zip_longest
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from kiosk.core.clock import parse_utc
from kiosk.gate.returnees import Returnee, ReturneeError, household_choices, register_returnee
from kiosk.gate.service import NotRecorded, override_policy
from kiosk.store import lane_state
from kiosk.store.guards import GuardError
from web import form_nonce, get_gate
from web import guard_actions as web_actions
from web.auth import checked_pin, guard_required, status_of
from web.lane_status import lane_card
from web.lookup import search_persons

bp = Blueprint("actions", __name__, url_prefix="/actions")
PASSENGER_SEATS = 4  # passenger rows on the vehicle form; more passengers: a second form


def _lane() -> str:
    """The lane chosen on the form, else the guard's own lane; 400 for a lane that does not exist."""
    lane = request.form.get("lane") or request.args.get("lane") or session.get("lane")
    lanes = [lane["id"] for lane in get_gate().config["lanes"]]
    if lane is None:
        return lanes[0]
    if lane not in lanes:
        abort(400)
    return lane


def _result(result, passengers=()):
    """The decision page after a manual check or vehicle check (with its passengers' decisions)."""
    gate = get_gate()
    cards = [lane_card(gate, gate.lane(checked.event["lane"]), checked.event) for checked in passengers]
    card = lane_card(gate, gate.lane(result.event["lane"]), result.event)
    return render_template("actions/result.html", card=card, decision=result.decision, passengers=cards,
                           can_override=result.decision.outcome in ("deny", "refer"))


def _unrecorded(exc: NotRecorded):
    """The decision that could not be recorded, with the loud "not recorded" notice (503, never a bare 500)."""
    lane = _lane()
    card = {"lane": lane, "direction": get_gate().lane(lane)["direction"], "event": None}
    return render_template("actions/result.html", card=card, decision=exc.decision, passengers=(),
                           can_override=False, not_recorded=str(exc)), 503


def _requires_temperature(lane: str) -> bool:
    return bool(get_gate().lane(lane).get("require_temperature"))


@bp.route("/")
@guard_required
def menu():
    return render_template("actions/menu.html", lanes=get_gate().config["lanes"], lane=_lane())


@bp.route("/check", methods=["GET", "POST"])
@guard_required
def check():
    gate, error = get_gate(), None
    if request.method == "POST":
        try:
            temperature = web_actions.parse_temperature(request.form.get("temperature"))
            result = web_actions.manual_check(gate, request.form.get("pass_id", ""), _lane(), temperature, gate.now(),
                                              typed_by=g.guard_id, nonce=form_nonce())
        except web_actions.NoSuchPass:
            error = "no_such_pass"
        except ValueError:
            error = "bad_temperature"
        except NotRecorded as exc:
            return _unrecorded(exc)
        else:
            return _result(result)
    query = request.args.get("q", "")
    return render_template("actions/check.html", query=query, persons=search_persons(gate.db, query, limit=4),
                           lanes=gate.config["lanes"], lane=_lane(), error=error, form=request.form,
                           temperature_required=_requires_temperature(_lane())), status_of(error)


@bp.route("/temperature", methods=["GET", "POST"])
@guard_required
def temperature():
    gate, error, saved = get_gate(), None, None
    if request.method == "POST":
        try:
            value = web_actions.parse_temperature(request.form.get("value"))
            if value is None:
                raise ValueError("empty")
            web_actions.enter_temperature(gate, _lane(), value, g.guard_id, gate.now(),
                                          remeasure_of=request.form.get("remeasure_of"))
            saved = value
        except ValueError:
            error = "bad_temperature"
    return render_template("actions/temperature.html", lanes=gate.config["lanes"], lane=_lane(),
                           refusals=web_actions.fever_refusals(gate, gate.now()), error=error, saved=saved,
                           typed=web_actions.typed_readings(gate, g.guard_id, gate.now())), status_of(error)


@bp.route("/override/<event_id>", methods=["GET", "POST"])
@guard_required
def override(event_id):
    """The page passes on what was submitted; ``Gate.override`` decides (policy, PIN, once)."""
    gate, error = get_gate(), None
    rows = list(gate.db.query("SELECT * FROM events WHERE id = ?", [event_id]))
    if not rows or rows[0]["outcome"] not in ("deny", "refer"):
        abort(404)
    if request.method == "POST":
        form = request.form
        try:
            event = gate.override(event_id, g.guard_id, form.get("reason", ""), gate.now(),
                                  form.get("supervisor_id", ""), form.get("supervisor_pin", ""),
                                  check_pin=checked_pin(gate))
        except GuardError as exc:
            error = exc.code
        else:
            return redirect(url_for("actions.opened", event_id=event["id"]))
    card = lane_card(gate, gate.lane(rows[0]["lane"]), rows[0])
    return render_template("actions/override.html", card=card, error=error,
                           supervised=override_policy(rows[0]) == "supervisor"), status_of(error)


@bp.route("/opened/<event_id>")
@guard_required
def opened(event_id):
    """After an override: whether (and when) the lane's relay actually opened; refreshes until then."""
    gate = get_gate()
    rows = list(gate.db.query("SELECT * FROM events WHERE id = ? AND kind = 'override'", [event_id]))
    if not rows:
        abort(404)
    command = lane_state.command_for(gate.db, event_id)
    opened_at = None
    if command and command["result"] == "opened":
        opened_at = parse_utc(command["done_utc"]).astimezone(ZoneInfo(gate.tz)).strftime("%H:%M:%S")
    # a lane that is not running never marks its command: stop waiting when the lane would refuse it
    expired = command is not None and (command["result"] == "expired" or (
        command["done_utc"] is None and lane_state.command_stale(command["created_utc"], gate.now())))
    return render_template("actions/opened.html", event=rows[0], command=command, opened_at=opened_at,
                           expired=expired)


@bp.route("/returnee", methods=["GET", "POST"])
@guard_required
def returnee():
    gate, error, event = get_gate(), None, None
    if request.method == "POST":
        fields = {name: request.form.get(name, "") for name in
                  ("name", "phone", "id_last4", "origin", "arrival", "household")}
        try:
            entry = next((lane["id"] for lane in gate.config["lanes"] if lane["direction"] == "in"), None)
            event = register_returnee(gate, Returnee(**fields), entry, g.guard_id, gate.now(), form_nonce())
        except ReturneeError as exc:
            error = exc.code
    areas = list(gate.db.query("SELECT * FROM risk_areas ORDER BY CASE level WHEN 'high' THEN 0 "
                               "WHEN 'medium' THEN 1 ELSE 2 END, name"))
    return render_template("actions/returnee.html", areas=areas, error=error, event=event, form=request.form,
                           households=household_choices(gate.db), today=gate.stamp(gate.now()).local[:10]
                           ), status_of(error and "bad_input")


@bp.route("/vehicle", methods=["GET", "POST"])
@guard_required
def vehicle():
    gate, error = get_gate(), None
    if request.method == "POST":
        form = request.form
        try:
            passengers = tuple((pass_id, web_actions.parse_temperature(temperature)) for pass_id, temperature
                               in zip_longest(form.getlist("passenger"), form.getlist("passenger_temperature"),
                                              fillvalue="")
                               if pass_id.strip())
            passage = web_actions.vehicle_check(
                gate, form.get("plate", ""), form.get("pass_id", ""), _lane(), form.get("disinfected") == "yes",
                gate.now(), driver=form.get("driver", ""),
                driver_temperature=web_actions.parse_temperature(form.get("driver_temperature")),
                passengers=passengers, typed_by=g.guard_id, nonce=form_nonce())
        except ValueError:
            error = "plate_or_pass"
        except NotRecorded as exc:
            return _unrecorded(exc)
        else:
            return _result(passage.driver, passage.passengers)
    return render_template("actions/vehicle.html", lanes=gate.config["lanes"], lane=_lane(), error=error,
                           seats=range(PASSENGER_SEATS)), status_of(error)
