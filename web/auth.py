"""Who is at the page: a signed-on guard (id + PIN) or an office login (password).

Roles are enforced here, on the server: ``guard_required`` for touchscreen actions,
``office_required`` for office pages, ``viewer_required`` for the guard screen.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict, deque

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from kiosk.core.clock import SystemClock
from kiosk.store import guards, office_security, web_sessions, web_users
from kiosk.store.config import ConfigError
from kiosk.store.events import RecordingError
from kiosk.store.guards import GuardError
from web import form_nonce, get_gate

bp = Blueprint("auth", __name__)
STATUS = {"wrong_pin": 401, "wrong_password": 401, "locked": 423, "not_on_duty": 409, "rate_limited": 429,
          "already_overridden": 409, "not_overridable": 409, "supervisor_required": 403,
          "supervisor_not_self": 403, "supervisor_pin_too_short": 403}


class RateLimiter:
    """Failed attempts per key (address, id, or both) in sliding windows, in bounded memory.

    An attempt is counted when it starts (``reserve``) and forgotten if it succeeds, so a
    burst of concurrent attempts cannot all pass the check before any failure is counted.
    A key may have several (limit, window) rules: 5 in 5 minutes, 6 in 10, 7 in 20 ... is a
    lockout whose length doubles with every further failure. Keys are stored as a short
    digest (an id of any length costs the same), at most ``MAX_KEYS`` of them: the least
    recently used is forgotten first; attempts older than a key's longest window are dropped.
    """

    MAX_KEYS = 4096

    def __init__(self) -> None:
        self.failures: OrderedDict[bytes, deque] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def reserve(self, rules: dict[str, list[tuple[int, float]]], now: float) -> tuple[float | None, str | None]:
        """Count an attempt at ``now`` (seconds) for every key: (stamp, None); or (None, the
        first key at a limit) and nothing counted."""
        with self.lock:
            recent = {key: self._recent(self._digest(key), now, max(w for _, w in limits))
                      for key, limits in rules.items()}
            for key, limits in rules.items():
                if any(sum(1 for stamp in recent[key] if now - stamp < window) >= limit for limit, window in limits):
                    return None, key
            for key, found in recent.items():
                found.append(now)
                self.failures[self._digest(key)] = found
                self.failures.move_to_end(self._digest(key))
            while len(self.failures) > self.MAX_KEYS:
                self.failures.popitem(last=False)
        return now, None

    def _recent(self, digest: bytes, now: float, window: float) -> deque:
        found = self.failures.pop(digest, deque())
        while found and now - found[0] >= window:
            found.popleft()
        if found:
            self.failures[digest] = found
        return found

    def succeeded(self, keys, stamp: float, forget: str) -> None:
        """Un-count a successful attempt; ``forget`` every failure of that key (the right secret
        from that address: no backoff left for it)."""
        with self.lock:
            self.failures.pop(self._digest(forget), None)
            for digest in map(self._digest, keys):
                found = self.failures.get(digest)
                if found is not None and stamp in found:
                    found.remove(stamp)


def status_of(error: str | None) -> int:
    return STATUS.get(error, 400) if error else 200


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault("signon_limiter", RateLimiter())


# One address trying one id: locked at the 5th failure (as the id itself, kiosk.store.guards),
# then each further failure doubles the wait, up to about a day. Someone else's tries from
# another address (the touchscreen) are not held up by it.
BACKOFF = [(guards.MAX_FAILURES + k, guards.LOCKOUT.total_seconds() * 2 ** k) for k in range(9)]


def checked_login(who: str, attempt):
    """Run ``attempt()`` unless this address, ``who``, or this address trying ``who`` is held
    back; count its failures, and record each failure as an event for the office."""
    who = who[:guards.MAX_ID_LENGTH]
    source = request.remote_addr or "-"
    limit = [tuple(current_app.config["SIGNON_LIMIT"])]
    pair = f"{who}@{source}"
    # The app's clock (the gate's: the same as the id's lock in the database), so both end together.
    stamp, held = _limiter().reserve({f"ip:{source}": limit, who: limit, pair: BACKOFF}, _now().timestamp())
    if stamp is None:
        if held == pair:
            raise GuardError("locked", "too many wrong attempts from this address: wait and try again")
        raise GuardError("rate_limited", "too many attempts: wait and try again")
    try:
        result = attempt()  # a GuardError leaves the attempt counted as a failure
    except GuardError as exc:
        _record_failure(who, source, exc.code)
        raise
    _limiter().succeeded([f"ip:{source}", who], stamp, forget=pair)
    return result


def _now():
    """The gate's clock (the same as the id's lock in its database), or the office's."""
    if current_app.extensions["kiosk_config"].role == "gate":
        return get_gate().now()
    return (current_app.config["CLOCK"] or SystemClock()).now()


def _record_failure(who: str, source: str, code: str) -> None:
    if code not in ("wrong_pin", "wrong_password", "locked"):
        return  # e.g. not_on_duty: the secret was right
    if current_app.extensions["kiosk_config"].role != "gate":
        from web import office_web  # an office folder has no event log: its own security log

        office_security.record_failed_login(office_web.db(), _now(), who.removeprefix("user:"), source, code)
        return
    gate = get_gate()
    try:
        gate.record("login_failed", gate.now(), data={"who": who, "source": source, "code": code})
    except RecordingError:
        pass  # a full disk must not turn a refusal into a 500


def checked_pin(gate):
    """A guard-PIN check behind the same limits as sign-on (for a supervisor's approval)."""
    return lambda guard_id, pin: checked_login(f"guard:{guard_id.strip().casefold()}",
                                               lambda: guards.authenticate(gate.db, guard_id, pin, gate.now()))


def current_guard() -> str | None:
    """The session's guard, while on duty and not signed off since this cookie was issued.

    The cookie names the duty row of its sign-on. A sign-off (here, at the command line or at
    another lane) closes that guard's duty with a handover note, and from then on cookies
    issued up to that duty are dead, even after the guard signs on again. A sign-on elsewhere
    without a sign-off (the guard moving lanes, a second touchscreen) closes the row without a
    note and leaves earlier cookies alive.
    """
    guard_id, duty_id = session.get("guard_id"), session.get("duty_id")
    if not guard_id or not isinstance(duty_id, int):
        return None
    db = get_gate().db
    on_duty = any(row["guard_id"] == guard_id for row in guards.open_duty(db))
    signed_off = db.conn.execute("SELECT 1 FROM duty WHERE guard_id = ? AND id >= ? AND handover_note IS NOT NULL",
                                 [guard_id, duty_id]).fetchone()
    return guard_id if on_duty and not signed_off else None


def current_office() -> dict | None:
    """The office login ({name, role}) of a live server-side session, else None."""
    gate = get_gate()
    return web_sessions.session_user(gate.db, session.get("office_session"), gate.now())


def fresh_session(keep_csrf: bool = False, **values) -> None:
    """Start a session over: nothing kept from before but the language, and a new CSRF token
    unless ``keep_csrf`` (a guard's double-tapped sign-on must still find its form valid)."""
    kept = {key: session[key] for key in ("lang", "csrf_token") if key in session and (key == "lang" or keep_csrf)}
    session.clear()
    session.update(values, **kept)


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
        g.office = current_office()
        if g.office is None:
            if current_guard():
                abort(403)  # a guard is not the office
            return _refuse("auth.login")
        return view(**kwargs)
    return wrapped


def viewer_required(view):
    """The guard screen: a signed-on guard or an office login."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        g.guard_id, g.office = current_guard(), current_office()
        if g.guard_id is None and g.office is None:
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
            stored_id = event["guard_id"]  # the id as stored, however it was typed
            duty = [row["id"] for row in guards.open_duty(gate.db) if row["guard_id"] == stored_id]
            fresh_session(keep_csrf=True, guard_id=stored_id, lane=lane, duty_id=duty[-1])
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
            fresh_session()
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
            fresh_session(office_session=web_sessions.open_session(gate.db, user["name"], gate.now()),
                           web_user=user["name"], web_role=user["role"])  # names for the pages only
            return redirect(url_for("office.events"))
    return render_template("login.html", error=error), status_of(error)


@bp.route("/logout", methods=["POST"])
def logout():
    gate = get_gate()
    web_sessions.revoke(gate.db, session.get("office_session"), gate.now())
    fresh_session()
    return redirect(url_for("auth.login"))
