"""The access rules: one decision from a scan, the registry, recent events and ``now``.

The decision is pure with respect to time (``now`` is passed in) and reads the
registry and history only through the two small protocols below, which the store
implements (kiosk.store.registry.RegistryView, kiosk.store.history.EventHistory). Every reason is a stable
code (kiosk.core.codes); the configured severity of each code makes the outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.core import passes
from kiosk.core.clock import parse_utc
from kiosk.core.codes import codes_with, message, severity_map
from kiosk.core.event_kinds import kinds_with
from kiosk.core.plates import normalise_plate

DIRECTIONS = ("in", "out")
PASSAGES = kinds_with(passage=True)
FORGERY_CODES = codes_with(unverified=True)
RANK = {"allow": 0, "warn": 0, "refer": 1, "deny": 2}
# Refusals that only a right clock can make; on an unsynchronised clock ``clock_unsynced``'s severity is theirs.
CLOCK_DEPENDENT = ("not_yet_valid", "expired", "household_quota")
TEMPERATURE_SOURCES = ("sensor", "typed", "none")
NOT_MEMBERS = ("vehicle", "visitor")  # subjects with a household that are not its members (no exit quota)


@dataclass(frozen=True)
class Scan:
    """What the lane saw: a token (camera/scanner) or a pass id / plate typed by a guard."""

    direction: str
    token: str | None = None
    pass_id: str | None = None
    plate: str | None = None
    temperature: float | None = None
    temperature_required: bool = False
    lane: str | None = None
    source: str = "camera"  # camera | scanner | manual
    nonce: str | None = None
    temperature_source: str | None = None  # sensor | typed | none; None: typed if a value was given
    temperature_by: str | None = None  # the guard who typed it

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'in' or 'out', not {self.direction!r}")
        if self.temperature_source not in (None, *TEMPERATURE_SOURCES):
            raise ValueError(f"temperature_source must be one of {TEMPERATURE_SOURCES}, "
                             f"not {self.temperature_source!r}")

    def temperature_facts(self) -> dict:
        """Where the temperature came from, for the event's data (the office sees it there)."""
        source = self.temperature_source or ("none" if self.temperature is None else "typed")
        return {"temperature_source": source, "temperature_by": self.temperature_by}


@dataclass(frozen=True)
class RuleSettings:
    severity: dict[str, str]
    fever_threshold: float = 37.3
    plausible_min: float = 30.0
    plausible_max: float = 43.0
    duplicate_window_s: float = 10.0
    household_quota_members: int = 1
    household_quota_days: float = 2.0
    clock_tolerance_s: float = 600.0
    fever_followup_minutes: float = 30.0

    @classmethod
    def from_sources(cls, config_rules: dict[str, Any], registry_settings: dict[str, Any] | None = None) -> "RuleSettings":
        """Defaults, then the gate's configuration, then the office's registry settings."""
        merged = {**config_rules, **{k: v for k, v in (registry_settings or {}).items() if k != "severity"}}
        severity = {**config_rules.get("severity", {}), **(registry_settings or {}).get("severity", {})}
        numeric = {name: type(getattr(cls, name))(merged[name]) for name in (
            "fever_threshold", "plausible_min", "plausible_max", "duplicate_window_s",
            "household_quota_members", "household_quota_days", "clock_tolerance_s",
            "fever_followup_minutes") if name in merged}
        return cls(severity=severity_map(severity), **numeric)


@dataclass(frozen=True)
class Decision:
    outcome: str  # allow | deny | refer
    codes: tuple[str, ...]
    message_zh: str
    message_en: str
    pass_id: str | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    household_id: str | None = None
    plate: str | None = None
    temperature: float | None = None
    vehicle_pass_id: str | None = None  # a vehicle passage: the vehicle's pass (the subject is its driver)
    duplicate_of: dict | None = field(default=None, compare=False)
    clock_tolerance_s: float | None = None  # how early the pass was accepted (gate clock behind)
    remeasure_of: dict | None = field(default=None, compare=False)  # the fever refusal followed up: id, seq, temperature

    def message(self, language: str = "zh") -> str:
        return self.message_zh if language == "zh" else self.message_en


class Registry(Protocol):
    """The registry replica and trusted keys, as the rules see them (kiosk.store.registry.RegistryView)."""

    site_id: str
    keys: dict[str, Ed25519PublicKey]

    def pass_row(self, pass_id: str) -> dict | None: ...

    def person(self, person_id: str) -> dict | None: ...

    def vehicle(self, plate: str) -> dict | None: ...

    def health(self, person_id: str) -> dict | None: ...

    def vehicle_pass(self, plate: str) -> dict | None: ...

    def visitor(self, visitor_id: str) -> dict | None:
        """A visitor with a temporary pass: name, phone, host ``household_id``, purpose."""
        ...


class History(Protocol):
    """Recent recorded events, as the rules see them (kiosk.store.history.EventHistory)."""

    def last_scan_of_pass(self, pass_id: str) -> dict | None: ...

    def last_passage(self, subject_kind: str, subject_id: str) -> dict | None: ...

    def household_exits_since(self, household_id: str, since: datetime, until: datetime) -> set[str]:
        """Ids of household members who went out between ``since`` and ``until`` (now: an exit
        stamped later came from a clock that was ahead, and is not recent)."""
        ...

    def open_fever_refusal(self, subject_kind: str, subject_id: str, since: datetime) -> dict | None:
        """The subject's latest refusal for fever since ``since`` not followed by an allowed passage."""
        ...


@dataclass
class _Findings:
    """What the checks found about one scan; turned into a Decision at the end."""

    codes: list[str] = field(default_factory=list)
    pass_id: str | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    household_id: str | None = None
    clock_tolerance_s: float | None = None
    remeasure_of: dict | None = None
    clock_synced: bool = True


def decide(scan: Scan, reg: Registry, history: History, now: datetime, rules: RuleSettings,
           clock_synced: bool = True) -> Decision:
    """Decide on one person's scan. Never raises on what was scanned or typed.

    A vehicle pass alone is refused (人车同检): vehicles pass with their driver, see ``decide_vehicle``.
    """
    found = _Findings(clock_synced=clock_synced)
    usable = _credential(scan, reg, now, timedelta(seconds=rules.clock_tolerance_s), found)
    # A genuine pass (even a refused one) held up again within the window changes nothing.
    previous = history.last_scan_of_pass(found.pass_id) if found.pass_id else None
    if previous and _is_repeat(previous, scan, now, rules):
        return decision_from_event(previous, ("duplicate_scan",))
    if usable and found.subject_kind == "vehicle":
        found.codes.append("vehicle_pass_alone")
    elif usable:
        _subject(scan, reg, found)
        _health(scan, reg, now, found)
        _temperature(scan, rules, found)
        _fever_followup(history, now, rules, found)
        _movement(scan, history, now, rules, found)
    return _conclude(scan, found, rules)


def decide_vehicle(vehicle: Scan, driver: Scan, reg: Registry, history: History, now: datetime,
                   rules: RuleSettings, clock_synced: bool = True) -> Decision:
    """A vehicle passage: the vehicle's pass and plate, and its driver checked by every person rule.

    One decision about both: its subject is the driver, its plate and vehicle pass the vehicle's.
    """
    car = _Findings()
    if _credential(vehicle, reg, now, timedelta(seconds=rules.clock_tolerance_s), car):
        if car.subject_kind != "vehicle":
            car.codes.append("plate_mismatch")  # a person's pass names no vehicle
        else:
            _subject(vehicle, reg, car)
            _movement(vehicle, history, now, rules, car)
    person = decide(driver, reg, history, now, rules, clock_synced)
    if person.duplicate_of is not None:
        return person
    codes = car.codes + [code for code in person.codes if code not in car.codes and code != "clock_unsynced"]
    plate = vehicle.plate or (car.subject_id if car.subject_kind == "vehicle" else None)  # as seen, else the pass's
    return _decision(codes, rules, pass_id=person.pass_id, subject_kind=person.subject_kind,
                     subject_id=person.subject_id, household_id=person.household_id,
                     plate=normalise_plate(plate) if plate else None, temperature=driver.temperature,
                     vehicle_pass_id=car.pass_id, remeasure_of=person.remeasure_of,
                     clock_tolerance_s=person.clock_tolerance_s or car.clock_tolerance_s, clock_synced=clock_synced)


def _credential(scan: Scan, reg: Registry, now: datetime, early: timedelta, found: _Findings) -> bool:
    """Establish which pass this is; False when nothing further can be checked."""
    if scan.token is not None:
        result = passes.check(scan.token, reg.keys, reg.site_id, now, early)
        if result.claims and result.code not in FORGERY_CODES:  # signed by the office
            found.pass_id = result.claims.pass_id
            found.subject_kind, found.subject_id = result.claims.subject_kind, result.claims.subject_id
        if result.code:
            found.codes.append(result.code)
            return False
        _note_early(result.claims.valid_from, now, found)
        row = reg.pass_row(found.pass_id)
    else:
        row = reg.pass_row(scan.pass_id) if scan.pass_id else (reg.vehicle_pass(scan.plate) if scan.plate else None)
        if row is None:
            found.codes.append("unknown_pass" if (scan.pass_id or scan.plate) else "unreadable")
            return False
        found.pass_id, found.subject_kind, found.subject_id = row["id"], row["subject_kind"], row["subject_id"]
        code = _row_validity(row, reg.site_id, now, early)
        if code:
            found.codes.append(code)
            return False
        _note_early(parse_utc(row["valid_from"]), now, found)
    if row and row["status"] != "active":
        found.codes.append(row["status"])  # 'revoked' or 'blocked'
        return False
    return True


def _note_early(valid_from: datetime, now: datetime, found: _Findings) -> None:
    """Accepted before its start within the clock tolerance: the event says by how much."""
    if now < valid_from:
        found.clock_tolerance_s = round((valid_from - now).total_seconds(), 3)


def _row_validity(row: dict, site_id: str, now: datetime, early: timedelta) -> str | None:
    if row["site_id"] != site_id:
        return "wrong_site"
    if now + early < parse_utc(row["valid_from"]):
        return "not_yet_valid"
    if now >= parse_utc(row["valid_until"]):
        return "expired"
    return None


def _is_repeat(previous: dict, scan: Scan, now: datetime, rules: RuleSettings) -> bool:
    age = (now - parse_utc(previous["ts_utc"])).total_seconds()
    return previous["direction"] == scan.direction and 0 <= age < rules.duplicate_window_s \
        and rules.severity["duplicate_scan"] != "off" and not _brings_a_fever(previous, scan, rules)


def _brings_a_fever(previous: dict, scan: Scan, rules: RuleSettings) -> bool:
    """A fever reading the earlier decision did not have: decided anew and recorded (the fever
    alarm sounds), never swallowed as a repeat of an allowed scan."""
    value = scan.temperature
    return value is not None and rules.plausible_min <= value <= rules.plausible_max \
        and value >= rules.fever_threshold and "fever" not in json.loads(previous["codes"])


def decision_from_event(event: dict, extra_codes: tuple[str, ...] = ()) -> Decision:
    """The decision an earlier event recorded, with ``extra_codes`` appended."""
    codes = [c for c in json.loads(event["codes"]) if c not in extra_codes] + list(extra_codes)
    outcome = event["outcome"]
    return Decision(outcome=outcome, codes=tuple(codes), message_zh=message(codes, outcome, "zh"),
                    message_en=message(codes, outcome, "en"), pass_id=event["pass_id"],
                    subject_kind=event["subject_kind"], subject_id=event["subject_id"],
                    household_id=event["household_id"], plate=event["plate"],
                    temperature=event["temperature"], duplicate_of=event)


def _subject(scan: Scan, reg: Registry, found: _Findings) -> None:
    if found.subject_kind == "vehicle":
        vehicle = reg.vehicle(found.subject_id)
        if vehicle is None:
            found.codes.append("unknown_subject")
            return
        found.household_id = vehicle["household_id"]
        if scan.plate and normalise_plate(scan.plate) != vehicle["plate"]:
            found.codes.append("plate_mismatch")
        return
    person = reg.visitor(found.subject_id) if found.subject_kind == "visitor" else reg.person(found.subject_id)
    if person is None:
        found.codes.append("unknown_subject")
        return
    found.household_id = person["household_id"]


def _health(scan: Scan, reg: Registry, now: datetime, found: _Findings) -> None:
    if "unknown_subject" in found.codes or found.subject_kind == "visitor":  # the registry's health is residents'
        return
    health = reg.health(found.subject_id)
    if health is None or health["status"] == "normal":
        return
    if health["until"] and parse_utc(health["until"]) <= now:
        return  # the measure has ended
    if health["status"] == "home_isolation" and scan.direction == "out":
        found.codes.append("home_isolation")
    elif health["status"] in ("central_quarantine", "health_monitoring"):
        found.codes.append(health["status"])


def decide_delivery(scan: Scan, rules: RuleSettings) -> Decision:
    """A courier or delivery, logged at the gate without a pass: only the temperature rules apply."""
    found = _Findings()
    _temperature(scan, rules, found)
    return _decision(found.codes, rules, temperature=scan.temperature)


def _temperature(scan: Scan, rules: RuleSettings, found: _Findings) -> None:
    value = scan.temperature
    if value is None:
        if scan.temperature_required:
            found.codes.append("temperature_missing")
    elif not (rules.plausible_min <= value <= rules.plausible_max):
        found.codes.append("temperature_implausible")
    elif value >= rules.fever_threshold:
        found.codes.append("fever")


def _fever_followup(history: History, now: datetime, rules: RuleSettings, found: _Findings) -> None:
    """A passage soon after a fever refusal re-measures it: linked to it, and not simply allowed."""
    if found.subject_id is None or found.subject_kind == "vehicle" or "unknown_subject" in found.codes:
        return
    since = now - timedelta(minutes=rules.fever_followup_minutes)
    refusal = history.open_fever_refusal(found.subject_kind, found.subject_id, since)
    if refusal is None:
        return
    found.remeasure_of = {"id": refusal["id"], "seq": refusal["seq"], "temperature": refusal["temperature"]}
    if "fever" not in found.codes:
        found.codes.append("fever_remeasured")


def _movement(scan: Scan, history: History, now: datetime, rules: RuleSettings, found: _Findings) -> None:
    if found.subject_id is None or "unknown_subject" in found.codes:
        return
    if scan.direction == "in":  # exits are never refused for passback
        last = history.last_passage(found.subject_kind, found.subject_id)
        if last and last["direction"] == "in":
            found.codes.append("passback")
    elif found.household_id and found.subject_kind not in NOT_MEMBERS:
        since = now - timedelta(days=rules.household_quota_days)
        others = history.household_exits_since(found.household_id, since, now) - {found.subject_id}
        if len(others) >= rules.household_quota_members:
            found.codes.append("household_quota")


def _conclude(scan: Scan, found: _Findings, rules: RuleSettings) -> Decision:
    return _decision(found.codes, rules, pass_id=found.pass_id, subject_kind=found.subject_kind,
                     subject_id=found.subject_id, household_id=found.household_id,
                     plate=normalise_plate(scan.plate) if scan.plate else None,
                     temperature=scan.temperature, clock_tolerance_s=found.clock_tolerance_s,
                     remeasure_of=found.remeasure_of, clock_synced=found.clock_synced)


def _decision(found_codes: list[str], rules: RuleSettings, clock_synced: bool = True, **facts) -> Decision:
    """The outcome of the codes that are switched on (the strictest severity), with its message.

    On an unsynchronised clock a clock-dependent refusal takes ``clock_unsynced``'s severity."""
    codes = [c for c in found_codes if rules.severity[c] != "off"]
    severity = rules.severity
    if not clock_synced and rules.severity["clock_unsynced"] != "off" and set(codes) & set(CLOCK_DEPENDENT):
        severity = {**severity, **{c: severity["clock_unsynced"] for c in CLOCK_DEPENDENT}}
        codes.append("clock_unsynced")
    outcome = max((severity[c] for c in codes), key=RANK.__getitem__, default="allow")
    outcome = "allow" if outcome == "warn" else outcome
    return Decision(outcome=outcome, codes=tuple(codes), message_zh=message(codes, outcome, "zh"),
                    message_en=message(codes, outcome, "en"), **facts)
