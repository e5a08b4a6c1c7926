"""The sync API the community office pulls from: ``/api/v1`` (see docs/sync.md).

Every endpoint but ``/health`` (which answers only ``{"status": "ok"}`` without a
token) and ``/openapi.json`` needs ``Authorization: Bearer <token>``. Views are thin:
each calls one function of kiosk.office.pull, kiosk.store.tokens or kiosk.store.registry.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, g, jsonify, request

from kiosk.core import protocol, safe_json
from kiosk.gate import sync_feed, usb_export
from kiosk.store import tokens
from kiosk.store.registry import BundleError, load_bundle
from web import get_gate

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.health", "api.openapi"}
QUERY = {"api.events": {"since", "limit"}, "api.shifts": {"since"}, "api.digest": {"first", "last"}}  # any other parameter is a mistake
BUNDLE_STATUS = {"malformed": 400, "not_newer": 409}  # other refusals: 422


def init_app(app: Flask) -> None:
    """Register the API; it takes no cookies, so it is exempt from CSRF protection."""
    app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf:
        csrf.exempt(bp)


def error(status: int, code: str, message: str, **extra) -> tuple[Response, int]:
    return jsonify(error=code, message=message, **extra), status


@bp.before_request
def require_token():
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else None
    gate = get_gate()
    g.api_token = tokens.authenticate(gate.db, secret, gate.clock.now())
    if g.api_token is None and request.endpoint not in PUBLIC:
        response, status = error(401, "unauthorized", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="kiosk"'
        return response, status
    unknown = set(request.args) - QUERY.get(request.endpoint, set())
    if unknown:
        return error(400, "bad_request", f"unknown query parameters: {', '.join(sorted(unknown))}")
    return None


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise protocol.SyncError("bad_request", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise protocol.SyncError("bad_request", f"{name} must be between {low} and {high}")
    return value


@bp.errorhandler(protocol.SyncError)
def refused(exc: protocol.SyncError):
    status = {"bad_request": 400, "range": 400, "unknown_seq": 422, "hash_mismatch": 409}.get(exc.code, 400)
    return error(status, exc.code, str(exc))


@bp.get("/health")
def health():
    gate = get_gate()
    if g.api_token is None:
        return jsonify(status="ok")
    return jsonify({**sync_feed.gate_health(gate, gate.clock.now()),
                    "export_key": usb_export.published_export_key(gate)})  # pinned by the office


@bp.get("/events")
def events():
    since = int_arg("since", 0, 0, protocol.MAX_SEQ)
    limit = int_arg("limit", protocol.DEFAULT_LIMIT, 1, protocol.MAX_LIMIT)
    try:
        feed = sync_feed.event_feed(get_gate().config.db_path, since, limit)
    except protocol.Pruned as exc:
        return error(410, "pruned", str(exc), lowest_seq=exc.lowest_seq)
    return Response(feed, mimetype="application/x-ndjson")


@bp.get("/digest")
def digest():
    first = int_arg("first", 1, 1, protocol.MAX_SEQ)
    last = int_arg("last", first, first, min(protocol.MAX_SEQ, first + protocol.VERIFY_WINDOW - 1))
    return jsonify(sync_feed.held_digest(get_gate().db, first, last))


@bp.get("/shifts")
def shifts():
    gate = get_gate()
    now = gate.clock.now()
    try:
        since = date.fromisoformat(request.args.get("since", gate.shift(now).date.isoformat()))
    except ValueError:
        return error(400, "bad_request", "since must be a date YYYY-MM-DD")
    return jsonify(gate_id=gate.gate_id, shifts=sync_feed.gate_shift_logs(gate, since, now))


@bp.put("/registry")
def put_registry():
    gate = get_gate()
    try:
        info = load_bundle(gate.db, request.get_data(), gate.site_id, gate.clock.now())
    except BundleError as exc:
        return error(BUNDLE_STATUS.get(exc.code, 422), exc.code, str(exc))
    return jsonify(version=info.version, site_id=info.site_id, issued_utc=info.issued_utc, counts=info.counts)


@bp.post("/ack")
def ack():
    try:
        body = safe_json.loads(request.get_data(), max_bytes=4096)
    except ValueError:
        body = None
    seq = body.get("seq") if isinstance(body, dict) else None
    hash_ = body.get("hash") if isinstance(body, dict) else None
    if type(seq) is not int or not 1 <= seq <= protocol.MAX_SEQ or not isinstance(hash_, str):
        return error(400, "bad_request", 'send JSON {"seq": <int 1..2^63-1>, "hash": "<hex>"}')
    gate = get_gate()
    retention = gate.config.settings.sync.retention_days
    return jsonify(sync_feed.acknowledge(gate.db, seq, hash_, gate.clock.now(), retention, gate.clock.synchronised()))


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                        "lowest_seq": {"type": "integer"}}}
REFUSED = {"401": _json(ERROR, "missing, wrong or revoked token"), "400": _json(ERROR, "bad parameters")}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Gate kiosk sync API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/health": {"get": {
            "summary": "Gate status; without a token only {status: ok}", "security": [{}, {"bearer": []}],
            "responses": {"200": _json({"type": "object", "required": ["status"], "properties": {
                "status": {"type": "string"}, "gate_id": {"type": "string"}, "site_id": {"type": "string"},
                "version": {"type": "string"}, "clock_utc": {"type": "string"}, "clock_synced": {"type": "boolean"},
                "last_seq": {"type": "integer"}, "lowest_seq": {"type": "integer"}, "acked_seq": {"type": "integer"},
                "watermark_seq": {"type": "integer", "nullable": True},
                "registry": {"type": "object"}, "lanes": {"type": "array"},
                "free_disk_bytes": {"type": "integer"},
                "office_last_contact_utc": {"type": "string", "nullable": True},
                "export_key": {"type": "string", "nullable": True}}}, "gate status")}}},
        "/events": {"get": {
            "summary": "Events after `since` as NDJSON, ending with {next, count, done}",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                            "maximum": protocol.MAX_SEQ}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                            "maximum": protocol.MAX_LIMIT}}],
            "responses": {"200": {"description": "one event per line, then the cursor line",
                                  "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                          "410": _json(ERROR, "`since` is older than the gate still holds"), **REFUSED}}},
        "/digest": {"get": {
            "summary": "SHA-256 over (seq, recomputed hash) of the held events first..last, for the office to re-check",
            "parameters": [
                {"name": "first", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": protocol.MAX_SEQ}},
                {"name": "last", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": protocol.MAX_SEQ}}],
            "responses": {"200": _json({"type": "object", "required": ["first", "last", "count", "digest"], "properties": {
                "first": {"type": "integer"}, "last": {"type": "integer"}, "count": {"type": "integer"},
                "digest": {"type": "string"}}}, "digest of the range"), **REFUSED}}},
        "/shifts": {"get": {
            "summary": "Shift logs from `since` (a date) to the open shift",
            "parameters": [{"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}}],
            "responses": {"200": _json({"type": "object", "required": ["gate_id", "shifts"], "properties": {
                "gate_id": {"type": "string"}, "shifts": {"type": "array", "items": {"type": "object"}}}},
                "shift logs"), **REFUSED}}},
        "/registry": {"put": {
            "summary": "Apply a registry bundle signed by the office key",
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": _json({"type": "object", "required": ["version"], "properties": {
                "version": {"type": "integer"}, "site_id": {"type": "string"}, "issued_utc": {"type": "string"},
                "counts": {"type": "object"}}}, "applied"),
                "409": _json(ERROR, "not newer than the loaded version"),
                "422": _json(ERROR, "unknown key, bad signature or another site"), **REFUSED}}},
        "/ack": {"post": {
            "summary": "Acknowledge every event up to seq (whose hash must match); prunes old acknowledged events",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["seq", "hash"],
                "properties": {"seq": {"type": "integer", "minimum": 1, "maximum": protocol.MAX_SEQ}, "hash": {"type": "string"}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["acked_seq", "pruned"], "properties": {
                "acked_seq": {"type": "integer"}, "pruned": {"type": "integer"},
                "prune_refused": {"type": "string"}}}, "acknowledged"),
                "409": _json(ERROR, "the hash differs from the gate's event"),
                "422": _json(ERROR, "no such event"), **REFUSED}}},
        "/openapi.json": {"get": {"summary": "This document", "security": [{}],
                                  "responses": {"200": _json({"type": "object"}, "OpenAPI 3")}}},
    },
}
