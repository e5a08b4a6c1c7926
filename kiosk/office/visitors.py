"""Visitor passes issued by the office: a temporary pass for a named visitor of a household.

The visitor's row and pass reach the gates with the next bundle; the gate decides on the pass
with the same rules as on a resident's (kiosk.core.rules.decide)."""

from __future__ import annotations

import secrets
from datetime import datetime

from kiosk.core.i18n import t
from kiosk.office.service import IssuedPass, Office, OfficeError, issue_pass
from kiosk.store.db import transaction

MAX_VISIT_HOURS = 72.0


def issue_visitor(office: Office, *, site_id: str, name: str, phone: str, household_id: str, purpose: str,
                  hours: float, now: datetime, issued_by: str = "office") -> IssuedPass:
    """Register a visitor and issue a pass valid for ``hours``, both or neither."""
    office.check_site(site_id)
    name, phone, purpose = name.strip(), phone.strip(), purpose.strip()
    if not name:
        raise OfficeError("bad_name", t("passes.visitor_needs_name"))
    if not 0 < hours <= MAX_VISIT_HOURS:
        raise OfficeError("bad_hours", t("passes.bad_hours", most=MAX_VISIT_HOURS))
    host = office.db.conn.execute("SELECT site_id FROM households WHERE id = ?", [household_id]).fetchone()
    if host is None or host[0] != site_id:
        raise OfficeError("unknown_household", t("passes.unknown_household", household=household_id, site=site_id))
    visitor_id = "V" + secrets.token_hex(5).upper()
    with transaction(office.db):
        office.db["visitors"].insert({"id": visitor_id, "name": name, "phone": phone or None,
                                      "household_id": household_id, "purpose": purpose or None,
                                      "issued_by": issued_by})
        return issue_pass(office, subject_kind="visitor", subject_id=visitor_id, site_id=site_id, now=now,
                          days=hours / 24)
