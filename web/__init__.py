"""The web application: on a gate folder the guard screen, guard actions, office pages and
sync API; on an office folder the office's own page over every gate (web.office_web).

``create_app(test_config=None)`` follows the Flask tutorial: the data folder comes
from ``test_config["KIOSK_HOME"]`` or the usual home resolution; one blueprint per
module. Served by ``kiosk serve`` (web/serve.py): waitress on loopback, cheroot with TLS on the LAN.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import date
from typing import Callable

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import CSRFProtect
from werkzeug.exceptions import HTTPException

from kiosk.core import i18n
from kiosk.gate.service import Gate
from kiosk.store.config import load_config

# Every form POST needs the session's CSRF token; the bearer-token API blueprint is exempted.
csrf = CSRFProtect()

# The largest body any request needs is a registry bundle (gzip: well under 1 KB a resident with passes
# and health, so 32 MiB holds the largest community by far); waitress refuses more before it
# spools anything (web.serve), Flask as a second line.
MAX_BODY_BYTES = 32 * 1024 * 1024

# No inline script or style in any template: everything comes from /static.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # Flask-WTF checks the Referer of forms over HTTPS
}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(KIOSK_HOME=None, CLOCK=None, SSE_LIFETIME=120.0, SSE_POLL=0.25,
                            SIGNON_LIMIT=(10, 600), SESSION_COOKIE_SAMESITE="Lax",
                            SESSION_COOKIE_HTTPONLY=True, WTF_CSRF_TIME_LIMIT=None,
                            MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    if test_config:
        app.config.update(test_config)
    config = load_config(app.config["KIOSK_HOME"])
    app.config["KIOSK_HOME"] = str(config.home)
    if not app.config.get("SECRET_KEY"):  # Flask's default is None, so setdefault would keep it
        app.config["SECRET_KEY"] = config.secret_key()
    app.extensions["kiosk_config"] = config
    if config.role == "gate":  # the one refusal of a gate folder holding the office's signing key
        Gate.open(config=config).close()
    app.teardown_appcontext(_close_gate)
    app.session_interface = _SessionCookies()
    csrf.init_app(app)
    app.before_request(_choose_language)
    app.jinja_env.globals.update(t=_t, languages=i18n.LANGUAGES, new_nonce=lambda: uuid.uuid4().hex,
                                 layout="base.html")  # the error page's frame: the office's on an office folder
    app.jinja_env.filters["fromjson"] = json.loads
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_security_headers)
    app.register_error_handler(sqlite3.DatabaseError, _storage_error)
    # Blueprints are registered below, one line per module.
    if config.role == "office":  # an office folder serves the office's own page over every gate
        from web import office_web
        app.jinja_env.globals["layout"] = "office_web/base.html"
        app.register_blueprint(office_web.bp)
        return app
    from web import actions, api, auth, office_pages, screen, tls_page, visitor_forms
    app.register_blueprint(auth.bp)
    app.register_blueprint(tls_page.bp)
    app.register_blueprint(screen.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(office_pages.bp)
    app.register_blueprint(visitor_forms.bp)
    api.init_app(app)  # after CSRF set-up: the bearer-token API is exempt from it
    return app


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` on requests that came over HTTPS (the LAN listener, web/serve.py):
    a browser then never sends it back in clear. The touchscreen's loopback HTTP keeps a plain one."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


def get_gate() -> Gate:
    """The gate for this request (opened once per request, closed at teardown)."""
    if "gate" not in g:
        g.gate = Gate(current_app.extensions["kiosk_config"], clock=current_app.config["CLOCK"])
    return g.gate


FORM_NONCE = re.compile(r"[0-9a-f]{32}")


def form_nonce() -> str | None:
    """The form's hidden nonce (rendered fresh into every form) as an event nonce.

    A double tap or a resubmitted form carries the same nonce, so the server records one
    event and shows that first result again. None when absent or malformed (nothing deduplicated).
    """
    text = request.form.get("nonce", "")
    return f"form:{text}" if FORM_NONCE.fullmatch(text) else None


def whole_number(text: str | None, default: int, high: int) -> int:
    """A query value as a whole number capped at ``high``, else ``default``.

    ``isdecimal`` plus ASCII, not ``isdigit``: '²' is a digit that int() refuses, and
    the cap keeps the value within SQLite's INTEGER.
    """
    if text and text.isascii() and text.isdecimal():
        return min(int(text), high)
    return default


def asked_day(otherwise: Callable[[], date]) -> date:
    """The ?date= asked for, else ``otherwise()`` (today where the page is).

    The calendar's first and last days are refused: their shifts reach into days that
    ``date`` cannot hold.
    """
    try:
        day = date.fromisoformat(request.args.get("date", ""))
        if date.min < day < date.max:
            return day
    except ValueError:
        pass
    return otherwise()


def _choose_language() -> None:
    """``?lang=en`` switches the session's language; Simplified Chinese by default."""
    wanted = request.args.get("lang")
    if wanted in i18n.LANGUAGES:
        session["lang"] = wanted
    g.lang = session.get("lang", i18n.DEFAULT_LANGUAGE)


def _t(key: str, **params: object) -> str:
    return i18n.t(key, g.get("lang", i18n.DEFAULT_LANGUAGE), **params)


TRANSLATED_ERRORS = (400, 401, 403, 404, 405, 413, 429, 500)


def _http_error(exc: HTTPException):
    """API callers get the documented JSON; people get the page in their language."""
    status = exc.code or 500
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # e.g. Allow on 405
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), status, headers
    shown = status if status in TRANSLATED_ERRORS else "other"
    return render_template("error.html", status=shown), status, headers


def _security_headers(response):
    """Every answer: no framing, no sniffing, no referrer; nothing but static files cached
    (pages, exports and API answers hold personal data). The holder's photo on the guard screen
    keeps its own ``private`` caching, revalidated by its digest (web/screen.py)."""
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint not in ("static", "screen.photo"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _storage_error(exc: sqlite3.DatabaseError):
    """The database cannot be opened, read or written (full, read-only or damaged card): said plainly."""
    current_app.logger.error("storage failing: %s", exc)
    if request.path.startswith("/api/"):
        return jsonify(error="storage_failed", message=str(exc)), 503
    return render_template("error.html", status=503, detail=str(exc)), 503


def _close_gate(_exc: BaseException | None) -> None:
    gate = g.pop("gate", None)
    if gate is not None:
        gate.close()
