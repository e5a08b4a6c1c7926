"""Decision codes: stable English identifiers with Chinese and English messages.

Messages live in the catalogue (kiosk/core/locale, keys ``code.<name>``). Each code has a default severity (``deny``, ``refer``, ``warn`` or ``off``) that the
configuration or the office's registry settings may change. docs/decision-codes.md
documents every code; a test fails if one is missing there.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.i18n import t

SEVERITIES = ("deny", "refer", "warn", "off")


@dataclass(frozen=True)
class Code:
    name: str
    severity: str
    adjustable: bool = True  # credential failures cannot be switched off


_CODES = [
    Code("unreadable", "deny", False),
    Code("bad_signature", "deny", False),
    Code("unknown_key", "deny", False),
    Code("wrong_site", "deny", False),
    Code("not_yet_valid", "deny", False),
    Code("expired", "deny", False),
    Code("revoked", "deny", False),
    Code("blocked", "deny", False),
    Code("unknown_pass", "deny", False),
    Code("unknown_subject", "refer"),
    Code("plate_mismatch", "refer"),
    Code("home_isolation", "deny"),
    Code("central_quarantine", "deny"),
    Code("health_monitoring", "warn"),
    Code("fever", "deny"),
    Code("temperature_missing", "refer"),
    Code("temperature_implausible", "refer"),
    Code("passback", "warn"),
    Code("household_quota", "off"),
    Code("duplicate_scan", "warn"),
    # Returnee registration (kiosk.gate.returnees): the origin area's risk level.
    Code("returnee_high_risk", "refer"),
    Code("returnee_low_risk", "warn"),
]

CODES: dict[str, Code] = {code.name: code for code in _CODES}



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
        if not CODES[name].adjustable and value != CODES[name].severity:
            raise ValueError(f"{name} is a credential check and cannot be changed")
        result[name] = value
    return result
