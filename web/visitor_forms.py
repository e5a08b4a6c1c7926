"""Visitors and deliveries on the touchscreen: log a courier (no pass), and a supervisor's
visitor pass. The gate's own functions decide (kiosk.gate.visitors); this only passes the form on."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from kiosk.core.errors import KioskError
from kiosk.gate import visitors
from web import form_nonce, get_gate
from web import guard_actions as web_actions
from web.auth import checked_pin, guard_required, status_of

bp = Blueprint("visitors", __name__, url_prefix="/visitors")


def _households(gate) -> list[dict]:
    return list(gate.db.query("SELECT id, building, unit, room FROM households ORDER BY building, unit, room"))


@bp.route("/delivery", methods=["GET", "POST"])
@guard_required
def delivery():
    gate, error, logged = get_gate(), None, None
    if request.method == "POST":
        form = request.form
        try:
            logged = visitors.log_delivery(
                gate, name=form.get("name", ""), company=form.get("company", ""), phone=form.get("phone", ""),
                household_id=form.get("household", ""), lane=None, direction="in", now=gate.now(),
                temperature=web_actions.parse_temperature(form.get("temperature")), nonce=form_nonce(),
                guard_id=g.guard_id)
        except KioskError as exc:
            error = exc.code
        except ValueError:
            error = "bad_temperature"
    return render_template("visitors/delivery.html", households=_households(gate), error=error,
                           decision=logged[0] if logged else None, form=request.form), status_of(error)


@bp.route("/pass", methods=["GET", "POST"])
@guard_required
def visitor_pass():
    gate, error, issued = get_gate(), None, None
    if request.method == "POST":
        form = request.form
        try:
            issued = visitors.issue_at_gate(
                gate, supervisor_id=form.get("supervisor_id", "").strip(), pin=form.get("supervisor_pin", ""),
                name=form.get("name", ""), phone=form.get("phone", ""), household_id=form.get("household", ""),
                purpose=form.get("purpose", ""), hours=float(form.get("hours") or 0), now=gate.now(),
                nonce=form_nonce(), check_pin=checked_pin(gate))
        except KioskError as exc:
            error = exc.code
        except ValueError:
            error = "bad_hours"
    return render_template("visitors/pass.html", households=_households(gate), error=error, issued=issued,
                           form=request.form, most=visitors.MAX_VISIT_HOURS), status_of(error)
