"""Event kinds: what each kind of gate event means, in one table.

Every event the gate records has one of these kinds (the recorder refuses any other),
and every set of kinds (passages, decisions) is ``kinds_with(flag=True)``.
docs/decision-codes.md lists them; a test fails if it disagrees.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.codes import named_with


@dataclass(frozen=True)
class EventKind:
    name: str
    passage: bool = False  # allowed, it moved someone through the gate (counts, passback, quota)
    decision: bool = False  # shown as the latest decision on its lane's card
    pass_check: bool = False  # a decision on a presented pass (the duplicate-scan window)
    duty: bool = False  # a guard going on or off duty


_KINDS = [
    EventKind("scan", passage=True, decision=True, pass_check=True),
    EventKind("manual", passage=True, decision=True, pass_check=True),
    EventKind("override", passage=True, decision=True),
    EventKind("manual_open", passage=True),
    EventKind("returnee", decision=True),
    EventKind("face_check", decision=True),  # a guard's tap: the face is not the holder's photo (face_mismatch)
    EventKind("delivery"),  # a courier logged without a pass, its temperature judged (kiosk.gate.visitors)
    EventKind("visitor_pass"),  # a supervisor issued a visitor pass at the gate
    EventKind("sign_on", duty=True),
    EventKind("sign_off", duty=True),
    EventKind("ack"),  # a guard saw an alarm (the screen's alarm strip) or the handover note
    EventKind("log_gap"),  # a supervisor acknowledged events lost on the gate (kiosk.core.chain.LOG_GAP)
    EventKind("login_failed"),  # a wrong PIN or password on the web page (data: who, source, code)
]

KINDS: dict[str, EventKind] = {kind.name: kind for kind in _KINDS}


def kinds_with(**flags: bool) -> tuple[str, ...]:
    """Names of the kinds whose flags have the given values, in definition order."""
    return named_with(_KINDS, flags)


def check_kind(name: str) -> None:
    """ValueError for a kind not in the table (a typo would otherwise be recorded for good)."""
    if name not in KINDS:
        raise ValueError(f"unknown event kind {name!r}; known kinds: {', '.join(KINDS)}")
