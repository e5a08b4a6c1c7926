"""Who is at the page: a signed-on guard (id + PIN) or an office login (password).

Roles are enforced here, on the server: ``guard_required`` for touchscreen actions,
``office_required`` for office pages, ``viewer_required`` for the guard screen.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict, deque

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from kiosk.store import guards, web_users
from kiosk.store.config import ConfigError
from kiosk.store.guards import GuardError
from web import form_nonce, get_gate

bp = Blueprint("auth", __name__)
STATUS = {"wrong_pin": 401, "wrong_password": 401, "locked": 423, "not_on_duty": 409, "rate_limited": 429,
          "already_overridden": 409, "not_overridable": 409, "supervisor_required": 403,
          "supervisor_not_self": 403}


class RateLimiter:
    """Failed attempts per key (IP address or guard id) in a sliding window.

    An attempt is counted when it starts (``reserve``) and forgotten if it succeeds, so a
    burst of concurrent attempts cannot all pass the check before any failure is counted.
    """

    def __init__(self) -> None:
        self.failures: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def reserve(self, keys: list[str], limit: int, window: float) -> float | None:
        """Count an attempt for every key; None (nothing counted) when any key is at its limit."""
        now = time.monotonic()
        with self.lock:
            for key in keys:
                while self.failures[key] and now - self.failures[key][0] > window:
                    self.failures[key].popleft()
            if any(len(self.failures[key]) >= limit for key in keys):
                return None
            for key in keys:
                self.failures[key].append(now)
        return now

    def succeeded(self, keys: list[str], stamp: float) -> None:
        with self.lock:
            for key in keys:
                if stamp in self.failures[key]:
                    self.failures[key].remove(stamp)


def status_of(error: str | None) -> int:
    return STATUS.get(error, 400) if error else 200


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault("signon_limiter", RateLimiter())


def checked_login(who: str, attempt):
    """Run ``attempt()`` unless this address or ``who`` is rate-limited; count its failures."""
    keys = [f"ip:{request.remote_addr}", who]
    limit, window = current_app.config["SIGNON_LIMIT"]
    stamp = _limiter().reserve(keys, limit, window)
    if stamp is None:
        raise GuardError("rate_limited", "too many attempts: wait and try again")
    result = attempt()  # a GuardError leaves the attempt counted as a failure
    _limiter().succeeded(keys, stamp)
    return result


def checked_pin(gate):
    """A guard-PIN check behind the same limits as sign-on (for a supervisor's approval)."""
    return lambda guard_id, pin: checked_login(f"guard:{guard_id.strip().casefold()}",
                                               lambda: guards.authenticate(gate.db, guard_id, pin, gate.now()))


def current_guard() -> str | None:
    """The session's guard, only while that guard is still signed on."""
    guard_id = session.get("guard_id")
    if guard_id and any(row["guard_id"] == guard_id for row in guards.open_duty(get_gate().db)):
        return guard_id
    return None


def _refuse(login_endpoint: str):
    if request.method == "GET":
        return redirect(url_for(login_endpoint, next=request.path))
    abort(401)


def guard_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        g.guard_id = current_guard()
        if g.guard_id is None:
            return _refuse("auth.sign_on")
        return view(**kwargs)
    return wrapped


def office_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        if session.get("web_role") not in web_users.ROLES:
            if current_guard():
                abort(403)  # a guard is not the office
            return _refuse("auth.login")
        return view(**kwargs)
    return wrapped


def viewer_required(view):
    """The guard screen: a signed-on guard or an office login."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        g.guard_id = current_guard()
        if g.guard_id is None and session.get("web_role") not in web_users.ROLES:
            return _refuse("auth.sign_on")
        return view(**kwargs)
    return wrapped


@bp.route("/")
def index():
    return redirect(url_for("screen.screen"))


@bp.route("/sign-on", methods=["GET", "POST"])
def sign_on():
    gate, error = get_gate(), None
    if request.method == "POST":
        guard_id, lane = request.form.get("guard_id", "").strip(), request.form.get("lane", "")
        try:
            gate.lane(lane)
            event = checked_login(f"guard:{guard_id.casefold()}",
                                  lambda: gate.sign_on(guard_id, request.form.get("pin", ""), lane, gate.now(),
                                                       form_nonce()))
        except GuardError as exc:
            error = exc.code
        except ConfigError:
            error = "bad_lane"
        if error is None:
            session.update(guard_id=event["guard_id"], lane=lane)  # the id as stored, however typed
            return redirect(url_for("screen.handover"))  # the last handover note first, if unread
    return render_template("sign_on.html", error=error, lanes=gate.config["lanes"], form=request.form,
                           lane=request.form.get("lane") or gate.config["lanes"][0]["id"]), status_of(error)


@bp.route("/sign-off", methods=["GET", "POST"])
@guard_required
def sign_off():
    gate, error = get_gate(), None
    if request.method == "POST":
        try:
            checked_login(f"guard:{g.guard_id.casefold()}",
                          lambda: gate.sign_off(g.guard_id, request.form.get("pin", ""), gate.now(),
                                                request.form.get("note", "").strip(), form_nonce()))
        except GuardError as exc:
            error = exc.code
        else:
            session.pop("guard_id", None)
            return redirect(url_for("auth.sign_on"))
    return render_template("sign_off.html", error=error), status_of(error)


@bp.route("/login", methods=["GET", "POST"])
def login():
    gate, error = get_gate(), None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            user = checked_login(f"user:{name}",
                                 lambda: web_users.authenticate(gate.db, name, request.form.get("password", ""),
                                                                gate.now()))
        except GuardError as exc:
            error = exc.code
        else:
            session.update(web_user=user["name"], web_role=user["role"])
            return redirect(url_for("office.events"))
    return render_template("login.html", error=error), status_of(error)


@bp.route("/logout", methods=["POST"])
def logout():
    session.pop("web_user", None)
    session.pop("web_role", None)
    return redirect(url_for("auth.login"))
