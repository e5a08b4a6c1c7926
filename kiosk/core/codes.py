"""Decision codes: stable English identifiers with Chinese and English messages.

Messages live in the catalogue (kiosk/core/locale, keys ``code.<name>``). Each code has a
default severity (``deny``, ``refer``, ``warn`` or ``off``) that the configuration or the
office's registry settings may change, and flags saying how the gate, the guard screen and
the office treat it: every set of codes (alarms, alerts, ...) is ``codes_with(flag=True)``.
docs/decision-codes.md documents every code and its flags; a test fails if they disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from kiosk.core.i18n import t

SEVERITIES = ("deny", "refer", "warn", "off")


@dataclass(frozen=True)
class Code:
    """A decision code and what it means beyond its severity (flags read by ``codes_with``)."""

    name: str
    severity: str
    credential: bool = False  # the pass itself is not trusted: severity fixed, cannot be switched off
    unverified: bool = False  # no trusted signature: the pass's claims name nobody
    alarm: bool = False  # impossible to miss on the guard screen (colour, size, sound)
    office_alert: bool = False  # listed on the office's alert page until acknowledged
    overridable: bool = True  # a guard may let a refusal with this code through at all
    needs_supervisor: bool = False  # ... and only with a supervisor's id and PIN


_CODES = [
    Code("unreadable", "deny", credential=True, unverified=True),
    # A forged or altered pass is never let through on that pass (the guard checks the person
    # by a manual check instead): no override.
    Code("bad_signature", "deny", credential=True, unverified=True, office_alert=True, overridable=False),
    Code("unknown_key", "deny", credential=True, unverified=True, office_alert=True, overridable=False),
    Code("wrong_site", "deny", credential=True),
    Code("not_yet_valid", "deny", credential=True),
    Code("expired", "deny", credential=True),
    Code("revoked", "deny", credential=True, office_alert=True),
    Code("blocked", "deny", credential=True, office_alert=True),
    Code("unknown_pass", "deny", credential=True),
    # A vehicle pass is no person's credential: fixed, and never overridden (check the person's own pass).
    Code("vehicle_pass_alone", "deny", credential=True, overridable=False),
    Code("unknown_subject", "refer"),
    Code("plate_mismatch", "refer"),
    Code("home_isolation", "deny", alarm=True, office_alert=True, needs_supervisor=True),
    Code("central_quarantine", "deny", alarm=True, office_alert=True, needs_supervisor=True),
    Code("health_monitoring", "warn"),
    Code("fever", "deny", alarm=True, office_alert=True, needs_supervisor=True),
    # A normal reading soon after a fever refusal (rules.fever_followup_minutes): a supervisor decides.
    Code("fever_remeasured", "refer", alarm=True, office_alert=True, needs_supervisor=True),
    Code("temperature_missing", "refer"),
    Code("temperature_implausible", "refer"),
    Code("passback", "warn"),
    Code("household_quota", "off"),
    Code("duplicate_scan", "warn"),
    # Added to a clock-dependent refusal (CLOCK_DEPENDENT) made on an unsynchronised clock: its severity replaces theirs.
    Code("clock_unsynced", "refer"),
    # Returnee registration (kiosk.gate.returnees): the origin area's risk level.
    Code("returnee_high_risk", "refer", alarm=True, office_alert=True, needs_supervisor=True),
    Code("returnee_low_risk", "warn"),
    # The guard's face check (the holder's photo on the screen): the person is not the pass's holder.
    # Fixed like vehicle_pass_alone (a pass is no credential of anyone but its holder) and never
    # overridden (the remedy is the person's own pass); an alarm, since the person must be stopped
    # and every guard at the gate should know; an office alert, since a lent or stolen pass is the
    # office's to follow up (block, ask the holder).
    Code("face_mismatch", "deny", credential=True, alarm=True, office_alert=True, overridable=False),
]

CODES: dict[str, Code] = {code.name: code for code in _CODES}


def codes_with(**flags: bool) -> tuple[str, ...]:
    """Names of the codes whose flags have the given values, in definition order."""
    return named_with(_CODES, flags)


def named_with(table: list, flags: dict[str, bool]) -> tuple[str, ...]:
    """Names of a table's entries (codes, event kinds) whose boolean fields have these values."""
    known = {field.name for field in fields(table[0]) if field.type == "bool"}
    if set(flags) - known:
        raise ValueError(f"unknown flags {sorted(set(flags) - known)}; known: {sorted(known)}")
    return tuple(entry.name for entry in table
                 if all(getattr(entry, flag) == value for flag, value in flags.items()))


def message(codes: list[str], outcome: str, language: str = "zh") -> str:
    """A one-line human message: the outcome, then the reasons."""
    head = t(f"outcome.{outcome}", language)
    if not codes:
        return head
    reasons = t("sep.list", language).join(t(f"code.{c}", language) for c in codes)
    return head + t("sep.reasons", language) + reasons


def severity_map(overrides: dict[str, str] | None) -> dict[str, str]:
    """Default severities with configured overrides; unknown names or values are errors."""
    result = {name: code.severity for name, code in CODES.items()}
    for name, value in (overrides or {}).items():
        if name not in CODES:
            raise ValueError(f"unknown decision code {name!r} in rule settings")
        if value not in SEVERITIES:
            raise ValueError(f"severity of {name} must be one of {SEVERITIES}, not {value!r}")
        if CODES[name].credential and value != CODES[name].severity:
            raise ValueError(f"{name} is a credential check and cannot be changed")
        result[name] = value
    return result
