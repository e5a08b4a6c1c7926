"""The flags on decision codes and event kinds give exactly the sets the gate used to spell out."""

from __future__ import annotations

import pytest

from kiosk.core.codes import CODES, codes_with
from kiosk.core.event_kinds import KINDS, kinds_with
from kiosk.core.i18n import catalogue

CREDENTIAL = {"unreadable", "bad_signature", "unknown_key", "wrong_site", "not_yet_valid", "expired",
              "revoked", "blocked", "unknown_pass", "vehicle_pass_alone", "face_mismatch"}


@pytest.mark.parametrize("flags, expected", [
    ({"credential": True}, CREDENTIAL),
    ({"credential": False}, set(CODES) - CREDENTIAL),
    ({"unverified": True}, {"unreadable", "unknown_key", "bad_signature"}),
    ({"alarm": True}, {"fever", "fever_remeasured", "home_isolation", "central_quarantine", "returnee_high_risk",
                       "face_mismatch"}),
    ({"office_alert": True}, {"fever", "fever_remeasured", "home_isolation", "central_quarantine", "bad_signature", "unknown_key",
                              "revoked", "blocked", "returnee_high_risk", "face_mismatch"}),
    ({"needs_supervisor": True}, {"fever", "fever_remeasured", "home_isolation", "central_quarantine", "returnee_high_risk"}),
    ({"overridable": False}, {"vehicle_pass_alone", "bad_signature", "unknown_key", "face_mismatch"}),
    ({"alarm": True, "overridable": True, "needs_supervisor": False}, set()),  # no guard alone lets an alarm through
])
def test_code_flags_give_the_sets(flags, expected):
    assert set(codes_with(**flags)) == expected


@pytest.mark.parametrize("flags, expected", [
    ({"passage": True}, ("scan", "manual", "override", "manual_open")),
    ({"decision": True}, ("scan", "manual", "override", "returnee", "face_check")),
    ({"pass_check": True}, ("scan", "manual")),
    ({"duty": True}, ("sign_on", "sign_off")),
])
def test_event_kind_flags_give_the_sets(flags, expected):
    assert kinds_with(**flags) == expected


def test_the_kinds_are_exactly_those_the_gate_records():
    assert set(KINDS) == {"scan", "manual", "override", "manual_open", "returnee", "sign_on", "sign_off",
                          "delivery", "visitor_pass", "ack", "login_failed", "face_check",
                          "log_gap"}


@pytest.mark.parametrize("query, what", [(codes_with, "alarms"), (kinds_with, "passages")])
def test_unknown_flags_are_refused(query, what):
    with pytest.raises(ValueError, match=f"unknown flags \\['{what}'\\]"):
        query(**{what: True})


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_code_and_kind_has_a_label(language):
    texts = catalogue(language)
    assert [name for name in CODES if f"code.{name}" not in texts] == []
    assert [name for name in KINDS if f"web.kind.{name}" not in texts] == []
