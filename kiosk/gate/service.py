"""The gate's domain service: decide, record, sign guards on and off, override.

One ``Gate`` per process wraps the configuration, the database and a clock. The scan
loop, the web page and the CLI all go through it, so every path records events the
same way. ``now`` is read from the clock here, at the boundary, and passed down.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import sqlite_utils

from kiosk.core.clock import Stamp, SystemClock
from kiosk.core.codes import CODES, codes_with
from kiosk.core.event_kinds import kinds_with
from kiosk.core.i18n import t
from kiosk.core.rules import Decision, RuleSettings, Scan, decide, decide_vehicle, decision_from_event
from kiosk.core.shifts import ShiftRef, shift_at, shift_defs
from kiosk.core.signing import key_id
from kiosk.store import events, guards, lane_state, movements, registry, watermark
from kiosk.store.config import Config, ConfigError, load_config
from kiosk.store.db import open_db, transaction
from kiosk.store.history import EventHistory
from kiosk.store.keys import private_keys_in
from kiosk.store.registry import RegistryView

log = logging.getLogger(__name__)


class NotRecorded(Exception):
    """A decision was made but could not be recorded; the caller must say so loudly.

    The lane still shows the decision; the relay opens for an unrecorded event only
    when the configuration says so (``[gate] open_unrecorded``).
    """

    def __init__(self, decision: Decision, reason: str) -> None:
        super().__init__(reason)
        self.decision = decision


@dataclass(frozen=True)
class CheckResult:
    decision: Decision
    event: dict | None  # the recorded event (the earlier one for a repeated scan)


class Gate:
    """A gate's data folder opened for work. Close it (or use ``with``) when done."""

    def __init__(self, config: Config, clock=None, db: sqlite_utils.Database | None = None) -> None:
        if config.role != "gate":
            raise ConfigError(f"{config.home} is an {config.role} folder, not a gate")
        self.config = config
        self.clock = clock or SystemClock()
        self.db = db or open_db(config.db_path, "gate")
        self.shift_defs = shift_defs(config["shifts"])
        self._rules_for_version: tuple[int, RuleSettings] | None = None
        try:
            self.rules()  # a typo in [rules] must stop the gate at start-up, not at the first scan
        except ValueError as exc:
            self.close()
            raise ConfigError(f"{config.home / 'kiosk.toml'} [rules]: {exc}") from exc

    @classmethod
    def open(cls, home=None, clock=None, config: Config | None = None) -> "Gate":
        """Open a gate folder (or an already loaded *config*); refuses one that holds the
        office's pass-signing key."""
        gate = cls(config if config is not None else load_config(home), clock=clock)
        gate._warn_lost_tail()
        held = held_signing_keys(gate)
        if held:
            gate.close()
            raise ConfigError(f"{held[0]} is the office's signing key: a gate must never hold it. "
                              "Move it back to the office machine.")
        return gate

    def _warn_lost_tail(self) -> None:
        """Say at start when the log is shorter than its watermark (lost WAL); doctor says more."""
        try:
            head = events.chain_head(self.db)[0]
            lost = watermark.lost_tail(self.db.conn, head)
        except sqlite3.DatabaseError as exc:  # a damaged log: verify-log and doctor report it
            log.error("the event log cannot be read: %s (kiosk doctor)", exc)
            return
        if lost is not None:
            log.error("the event log ends at seq %s but had reached seq %s: events were lost (kiosk doctor)",
                      head, lost)

    def close(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    def __enter__(self) -> "Gate":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- identity and time ----------------------------------------------------------

    @property
    def site_id(self) -> str:
        return self.config["site_id"]

    @property
    def gate_id(self) -> str:
        return self.config["gate_id"]

    @property
    def tz(self) -> str:
        return self.config["timezone"]

    def now(self) -> datetime:
        return self.clock.now()

    def stamp(self, now: datetime) -> Stamp:
        return Stamp.of(now, self.tz, self.clock.synchronised())

    def shift(self, now: datetime) -> ShiftRef:
        return shift_at(now, self.shift_defs, self.tz)

    def lane_ids(self) -> list[str]:
        return [lane["id"] for lane in self.config["lanes"]]

    def lane(self, lane_id: str) -> dict:
        for lane in self.config["lanes"]:
            if lane["id"] == lane_id:
                return lane
        raise ConfigError(f"no lane {lane_id!r} in the configuration")

    # --- deciding and recording ---------------------------------------------------------

    def rules(self) -> RuleSettings:
        """Rule settings; rebuilt only when a new registry version was loaded."""
        version = registry.current_version(self.db)
        if self._rules_for_version is None or self._rules_for_version[0] != version:
            self._rules_for_version = (version, RuleSettings.from_sources(
                self.config["rules"], registry.settings(self.db).get("rules")))
        return self._rules_for_version[1]

    def decide(self, scan: Scan, now: datetime) -> Decision:
        reg = RegistryView(self.db, self.site_id, registry.trusted_keys(self.db))
        return decide(scan, reg, EventHistory(self.db), now, self.rules(), self.clock.synchronised())

    def check(self, scan: Scan, now: datetime | None = None, record: bool = True,
              data: dict | None = None) -> CheckResult:
        """Decide on a scan and (by default) record it durably before returning.

        ``data`` adds facts to the recorded event (e.g. the vehicle a passenger came in).
        """
        return self._check(scan, self.decide, now, record, data)

    def check_vehicle(self, vehicle: Scan, driver: Scan, now: datetime | None = None, record: bool = True,
                      data: dict | None = None) -> CheckResult:
        """A vehicle passage (人车同检): the vehicle and its driver decided together, one event.

        The event's subject is the driver; its plate and ``data.vehicle_pass_id`` name the vehicle.
        """
        def decide_both(scan: Scan, now: datetime) -> Decision:
            reg = RegistryView(self.db, self.site_id, registry.trusted_keys(self.db))
            return decide_vehicle(vehicle, scan, reg, EventHistory(self.db), now, self.rules(),
                                  self.clock.synchronised())

        return self._check(driver, decide_both, now, record, data)

    def _check(self, scan: Scan, decider, now: datetime | None, record: bool, data: dict | None) -> CheckResult:
        now = now or self.now()
        if not record:
            decision = decider(scan, now)
            return CheckResult(decision, decision.duplicate_of)
        decision = None
        try:
            # Decided under the write lock (BEGIN IMMEDIATE): two lanes deciding at once are
            # serialised, so they can never both allow what the rules allow once (a quota of 1).
            with transaction(self.db):
                if scan.nonce and (earlier := events.find_by_nonce(self.db, scan.nonce)):
                    return CheckResult(decision_from_event(earlier), earlier)  # resubmitted: changes nothing
                decision = decider(scan, now)
                if decision.duplicate_of is not None:
                    return CheckResult(decision, decision.duplicate_of)
                event = self._record_decision(scan, decision, now, data)
        except (events.RecordingError, sqlite3.DatabaseError) as exc:
            reason = str(exc) if isinstance(exc, events.RecordingError) else f"event not recorded: {exc}"
            raise NotRecorded(decision or self._decide_unrecorded(scan, decider, now), reason) from exc
        return CheckResult(decision, event)

    def _decide_unrecorded(self, scan: Scan, decider, now: datetime) -> Decision:
        """The decision to show when the database took no write lock: read without it, or,
        when the database cannot even be read, a referral to a guard's check by hand."""
        try:
            return decider(scan, now)
        except sqlite3.DatabaseError:
            return Decision(outcome="refer", codes=(), message_zh=t("resilience.decision.unreadable", "zh"),
                            message_en=t("resilience.decision.unreadable", "en"))

    def _record_decision(self, scan: Scan, decision: Decision, now: datetime, data: dict | None) -> dict:
        return self.record(
            "manual" if scan.source == "manual" else "scan", now, lane=scan.lane,
            direction=scan.direction, outcome=decision.outcome, codes=list(decision.codes),
            pass_id=decision.pass_id, subject_kind=decision.subject_kind,
            subject_id=decision.subject_id, household_id=decision.household_id,
            plate=decision.plate, temperature=decision.temperature, nonce=scan.nonce,
            data={**(data or {}), "source": scan.source, **scan.temperature_facts(), **_tolerance_note(decision),
                  **({"remeasure_of": decision.remeasure_of} if decision.remeasure_of else {}),
                  **({"vehicle_pass_id": decision.vehicle_pass_id} if decision.vehicle_pass_id else {})})

    def record(self, kind: str, now: datetime, *, codes: list[str] | None = None,
               data: dict | None = None, guard_id: str | None = None, **fields) -> dict:
        """Append an event with the guard on duty at its lane and the current shift."""
        guard_id = guard_id or guards.on_duty(self.db, fields.get("lane"))
        return events.append(self.db, gate_id=self.gate_id, site_id=self.site_id, kind=kind,
                             stamp=self.stamp(now), codes=codes, data=data, guard_id=guard_id,
                             shift_id=self.shift(now).id, **fields)

    def override(self, refused_event_id: str, guard_id: str, reason: str, now: datetime,
                 supervisor_id: str = "", supervisor_pin: str = "",
                 check_pin: Callable[[str, str], guards.Guard] | None = None) -> dict:
        """Let a refused person or vehicle through; the override is its own event.

        The override policy, in one place: codes that are not ``overridable`` refuse it;
        codes that ``need_supervisor`` need another guard's id and PIN of role supervisor
        (``check_pin(id, pin)`` lets the web put its rate limits in front). Checked and
        recorded in one transaction with the nonce ``override:<event id>``, so twelve guards
        overriding the same refusal at once get one override and eleven ``already_overridden``.
        The lane's process is told to open the gate in the same transaction: it sees the
        command only once the override event is committed, so the event is durable before
        the relay moves.
        """
        if not reason or not reason.strip():
            raise guards.GuardError("reason_required", "an override needs a reason")
        refused = self._overridable(refused_event_id)
        # The PIN is checked outside the write transaction: its failure count must stay counted.
        approved_by = self._approval(refused, guard_id, supervisor_id, supervisor_pin, check_pin, now)
        with transaction(self.db):
            refused = self._overridable(refused_event_id)
            event = self.record(
                "override", now, guard_id=guard_id, lane=refused["lane"], direction=refused["direction"],
                outcome="allow", codes=[], pass_id=refused["pass_id"], subject_kind=refused["subject_kind"],
                subject_id=refused["subject_id"], household_id=refused["household_id"],
                plate=refused["plate"], temperature=refused["temperature"], nonce=f"override:{refused_event_id}",
                data={"overrides": refused_event_id, "overridden_codes": refused["codes"],
                      "reason": reason.strip(), "approved_by": approved_by})
            if refused["lane"] in self.lane_ids():
                lane_state.add_open_command(self.db, refused["lane"], event["id"], now)
        return event

    def report_face_mismatch(self, checked_event_id: str, guard_id: str, now: datetime) -> dict:
        """The guard's tap "face does not match": the person at the lane is not the holder of the
        pass just checked (compared with the holder's photo on the screen).

        Recorded as a refusal of its own (kind ``face_check``, code ``face_mismatch``) naming the
        same pass, person, lane and direction, through the same recorder as every decision. The
        nonce ``face_mismatch:<event id>`` makes it once per checked event: a double tap, a
        resubmitted form or two guards tapping at once record one refusal (the first is returned).
        GuardError ``not_a_person_check`` for an event that is not a check of a person's pass.
        """
        nonce = f"face_mismatch:{checked_event_id}"
        with transaction(self.db):
            if earlier := events.find_by_nonce(self.db, nonce):
                return earlier
            checked = person_check(self.db, checked_event_id)
            if checked is None:
                raise guards.GuardError("not_a_person_check", "only a check of a person's pass can be reported")
            refusal = self.record(
                "face_check", now, guard_id=guard_id, lane=checked["lane"], direction=checked["direction"],
                outcome=CODES["face_mismatch"].severity, codes=["face_mismatch"], pass_id=checked["pass_id"],
                subject_kind=checked["subject_kind"], subject_id=checked["subject_id"],
                household_id=checked["household_id"], plate=checked["plate"], temperature=checked["temperature"],
                nonce=nonce,
                data={"face_check_of": checked_event_id, "checked_outcome": checked["outcome"]})
            movements.undo(self.db.conn, checked)  # the holder did not pass: no false passback for them later
            if checked["lane"]:  # the lane's process sounds it: the screen's page owns no GPIO
                lane_state.add_alarm_command(self.db, checked["lane"], refusal["id"], now)
            return refusal

    def _overridable(self, refused_event_id: str) -> dict:
        """The refused event, if it may be overridden; GuardError saying why not."""
        rows = list(self.db.query("SELECT * FROM events WHERE id = ?", [refused_event_id]))
        if not rows or rows[0]["outcome"] not in ("deny", "refer"):
            raise guards.GuardError("not_refused", "only a refused or referred event can be overridden")
        if override_policy(rows[0]) == "not_overridable":
            raise guards.GuardError("not_overridable", "this refusal may not be overridden")
        if events.find_by_nonce(self.db, f"override:{refused_event_id}") or self.db.conn.execute(
                "SELECT 1 FROM events WHERE kind = 'override' AND json_extract(data, '$.overrides') = ?",
                [refused_event_id]).fetchone():  # the second test: overrides recorded before the nonce
            raise guards.GuardError("already_overridden", "this refusal was overridden already")
        return rows[0]

    def _approval(self, refused: dict, guard_id: str, supervisor_id: str, supervisor_pin: str,
                  check_pin: Callable[[str, str], guards.Guard] | None, now: datetime) -> str | None:
        """The approving supervisor's id when the refusal needs one; GuardError otherwise."""
        if override_policy(refused) != "supervisor":
            return None
        supervisor_id = guards.known_id(self.db, supervisor_id or "")  # s001 is S001
        if not supervisor_id or not supervisor_pin:
            raise guards.GuardError("supervisor_required", "this override needs a supervisor's id and PIN")
        if supervisor_id == guard_id:
            raise guards.GuardError("supervisor_not_self", "the supervisor must be someone else")
        check_pin = check_pin or (lambda who, pin: guards.authenticate(self.db, who, pin, now))
        approver = check_pin(supervisor_id, supervisor_pin)
        if approver.role != "supervisor":
            raise guards.GuardError("supervisor_required", "this override needs a supervisor's PIN")
        if guards.short_supervisor_pin(approver, supervisor_pin):
            raise guards.GuardError("supervisor_pin_too_short", "a supervisor's PIN has 6 digits now: "
                                    "set a new one with `kiosk guard set-pin` before approving")
        return supervisor_id

    # --- guards -------------------------------------------------------------------------

    def sign_on(self, guard_id: str, pin: str, lane: str, now: datetime, nonce: str | None = None) -> dict:
        """Put a guard on duty at a lane; a repeated ``nonce`` returns the first sign-on unchanged."""
        guard = guards.authenticate(self.db, guard_id, pin, now)
        stamp = self.stamp(now)
        with transaction(self.db) as conn:  # the duty row and its event: both or neither
            if nonce and (earlier := events.find_by_nonce(self.db, nonce)):
                return earlier
            conn.execute("UPDATE duty SET off_utc = ? WHERE guard_id = ? AND off_utc IS NULL",
                         [stamp.utc, guard.id])
            conn.execute("INSERT INTO duty (guard_id, lane, on_utc) VALUES (?, ?, ?)", [guard.id, lane, stamp.utc])
            return self.record("sign_on", now, guard_id=guard.id, lane=lane, nonce=nonce,
                               data={"name": guard.name, "organisation": guard.organisation})

    def acknowledge_lost_events(self, supervisor_id: str, pin: str, now: datetime) -> dict:
        """A supervisor's ``log_gap`` event after the card lost events: it declares the lost seqs
        and takes the seq after them, and recording goes on (kiosk.store.events)."""
        supervisor = guards.authenticate(self.db, supervisor_id, pin, now)
        if supervisor.role != "supervisor":
            raise guards.GuardError("supervisor_required", "only a supervisor can acknowledge lost events")
        return self.record("log_gap", now, guard_id=supervisor.id, data={"name": supervisor.name})

    def sign_off(self, guard_id: str, pin: str, now: datetime, handover_note: str = "",
                 nonce: str | None = None) -> dict:
        """Take a guard off duty; a repeated ``nonce`` returns the first sign-off unchanged."""
        guard = guards.authenticate(self.db, guard_id, pin, now)
        stamp = self.stamp(now)
        with transaction(self.db) as conn:  # the duty row and its event: both or neither
            if nonce and (earlier := events.find_by_nonce(self.db, nonce)):
                return earlier
            open_rows = [row for row in guards.open_duty(self.db) if row["guard_id"] == guard.id]
            if not open_rows:
                raise guards.GuardError("not_on_duty", f"guard {guard.id} is not signed on")
            conn.execute("UPDATE duty SET off_utc = ?, handover_note = ? WHERE guard_id = ? AND off_utc IS NULL",
                         [stamp.utc, handover_note, guard.id])
            return self.record("sign_off", now, guard_id=guard.id, lane=open_rows[0]["lane"], nonce=nonce,
                               data={"handover_note": handover_note})


def _tolerance_note(decision: Decision) -> dict:
    """Flags an event whose pass was accepted before its start, within the clock tolerance."""
    return {} if decision.clock_tolerance_s is None else {"clock_tolerance_s": decision.clock_tolerance_s}


def override_policy(event: dict) -> str:
    """Who may override this refused event, from its codes' flags: ``not_overridable``,
    ``supervisor`` (a supervisor's id and PIN) or ``guard`` (the guard on duty alone)."""
    codes = set(json.loads(event["codes"]))
    if codes & set(codes_with(overridable=False)):
        return "not_overridable"
    if codes & set(codes_with(needs_supervisor=True)):
        return "supervisor"
    return "guard"


PERSON_KINDS = ("resident", "visitor")


def person_check(db: sqlite_utils.Database, event_id: str) -> dict | None:
    """The event if it is a check of a person's pass (a scan or manual check, the driver's in a
    vehicle passage): what a guard can compare with the holder's photo; None otherwise."""
    kinds = kinds_with(pass_check=True)
    rows = list(db.query(f"SELECT * FROM events WHERE id = ? AND kind IN ({','.join('?' for _ in kinds)})",
                         [event_id, *kinds]))
    return rows[0] if rows and rows[0]["subject_kind"] in PERSON_KINDS and rows[0]["pass_id"] else None


def held_signing_keys(gate: Gate) -> list[Path]:
    """Files in the gate folder holding a private key the gate trusts as an office key
    (found by content: PEM, DER, base64, hex or raw, under any name)."""
    trusted = registry.trusted_keys(gate.db)
    found = private_keys_in(gate.config.home, gate.config.db_path)
    return sorted({path for path, key in found if key_id(key.public_key()) in trusted})
