"""Visitors and deliveries at the gate.

A supervisor may issue a visitor pass here (the gate holds no signing key, so it is a local
pass row checked by its id, like a pass id typed by a guard, by the same rules as any pass);
a courier or delivery is logged as its own ``delivery`` event without a pass, its temperature
judged by the same temperature rules (kiosk.core.rules.decide_delivery).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.i18n import t
from kiosk.core.rules import Decision, Scan, decide_delivery, decision_from_event
from kiosk.store import events, guards, registry
from kiosk.store.db import transaction

MAX_VISIT_HOURS = 24.0  # a longer visit is the office's to grant


class VisitorError(KioskError, ValueError):
    """A visitor pass or a delivery entry was refused (``bad_name``, ``unknown_household``, ...)."""


def _host(gate, household_id: str) -> str:
    if registry.get_household(gate.db, household_id) is None:
        raise VisitorError("unknown_household", t("passes.unknown_household", household=household_id,
                                                  site=gate.site_id))
    return household_id


def issue_at_gate(gate, *, supervisor_id: str, pin: str, name: str, phone: str, household_id: str,
                  purpose: str, hours: float, now: datetime, nonce: str | None = None,
                  check_pin: Callable[[str, str], guards.Guard] | None = None) -> dict:
    """A supervisor's visitor pass: the row and its ``visitor_pass`` event, both or neither.

    A repeated ``nonce`` (a form sent twice) returns the pass issued the first time.
    ``check_pin(id, pin)`` lets the web put its rate limits in front of the PIN check.
    """
    if nonce and (earlier := events.find_by_nonce(gate.db, nonce)):
        return gate.db["gate_visitor_passes"].get(earlier["pass_id"])
    check_pin = check_pin or (lambda who, secret: guards.authenticate(gate.db, who, secret, now))
    supervisor = check_pin(supervisor_id, pin)
    if supervisor.role != "supervisor":
        raise guards.GuardError("supervisor_required", t("passes.supervisor_required"))
    if not name.strip():
        raise VisitorError("bad_name", t("passes.visitor_needs_name"))
    if not 0 < hours <= MAX_VISIT_HOURS:
        raise VisitorError("bad_hours", t("passes.bad_hours", most=MAX_VISIT_HOURS))
    _host(gate, household_id)
    pass_id = "V" + secrets.token_hex(5).upper()
    start, end = now.replace(microsecond=0), (now + timedelta(hours=hours)).replace(microsecond=0)
    row = {"id": pass_id, "name": name.strip(), "phone": phone.strip() or None, "household_id": household_id,
           "purpose": purpose.strip() or None, "site_id": gate.site_id, "valid_from": utc_text(start),
           "valid_until": utc_text(end), "status": "active", "reason": None, "issued_by": supervisor.id}
    with transaction(gate.db):
        event = gate.record("visitor_pass", now, guard_id=supervisor.id, pass_id=pass_id, subject_kind="visitor",
                            subject_id=pass_id, household_id=household_id, nonce=nonce,
                            data={"valid_until": row["valid_until"], "purpose": row["purpose"]})
        gate.db["gate_visitor_passes"].insert({**row, "event_id": event["id"]})
    return row


def log_delivery(gate, *, name: str, company: str, phone: str, household_id: str, temperature: float | None,
                 lane: str | None, direction: str, now: datetime, nonce: str | None = None,
                 guard_id: str | None = None) -> tuple[Decision, dict]:
    """Record a courier or delivery (no pass): who, company, phone, for which household, temperature.

    A repeated ``nonce`` (a form sent twice) returns the first entry unchanged."""
    if nonce and (earlier := events.find_by_nonce(gate.db, nonce)):
        return decision_from_event(earlier), earlier
    if not name.strip() and not company.strip():
        raise VisitorError("bad_name", t("passes.delivery_needs_name"))
    _host(gate, household_id)
    settings = gate.lane(lane) if lane else next((l for l in gate.config["lanes"] if l["direction"] == direction), {})
    scan = Scan(direction=direction, temperature=temperature, lane=settings.get("id"), source="manual",
                temperature_required=bool(settings.get("require_temperature")))
    decision = decide_delivery(scan, gate.rules())
    event = gate.record("delivery", now, lane=scan.lane, direction=direction, outcome=decision.outcome,
                        codes=list(decision.codes), temperature=temperature, nonce=nonce, guard_id=guard_id,
                        data={"name": name.strip(), "company": company.strip(), "phone": phone.strip(),
                              "for_household": household_id, **scan.temperature_facts()})
    return decision, event
