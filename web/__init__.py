"""The gate's web application: guard screen, guard actions, office pages, sync API.

``create_app(test_config=None)`` follows the Flask tutorial: the data folder comes
from ``test_config["KIOSK_HOME"]`` or the usual home resolution; one blueprint per
module. Served in production by waitress (``kiosk serve``).
"""

from __future__ import annotations

from flask import Flask, current_app, g

from kiosk.config import load_config
from kiosk.gate import Gate


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(KIOSK_HOME=None, CLOCK=None)
    if test_config:
        app.config.update(test_config)
    config = load_config(app.config["KIOSK_HOME"])
    app.config["KIOSK_HOME"] = str(config.home)
    app.config.setdefault("SECRET_KEY", config.secret_key())
    app.extensions["kiosk_config"] = config
    app.teardown_appcontext(_close_gate)
    # Blueprints are registered below, one line per module.
    from web import api; api.init_app(app)  # noqa: E702 (lazy: web.api imports get_gate from here)
    return app


def get_gate() -> Gate:
    """The gate for this request (opened once per request, closed at teardown)."""
    if "gate" not in g:
        g.gate = Gate(current_app.extensions["kiosk_config"], clock=current_app.config["CLOCK"])
    return g.gate


def _close_gate(_exc: BaseException | None) -> None:
    gate = g.pop("gate", None)
    if gate is not None:
        gate.close()
