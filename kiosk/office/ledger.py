"""Residents from the community's ledger (台账): a sync of the office's registry with the file.

The ledger is read as a table (:mod:`kiosk.office.ledger_table`), each row into a
:class:`~kiosk.office.residents.Resident` (:mod:`kiosk.office.ledger_fields`), and compared
with what the office holds for the site: new, changed, unchanged and gone persons and plates.
Every refused row is reported with its line number; nothing is dropped without a word. A
person's id is the ledger's 编号 when it has one, else derived (see :func:`derived_id`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.core.clock import utc_text
from kiosk.core.i18n import t
from kiosk.office import identity, ledger_fields, residents
from kiosk.office.identity import IdentityError
from kiosk.office.ledger_fields import CellError
from kiosk.office.ledger_table import REQUIRED, read_table
from kiosk.office.residents import Resident
from kiosk.office.service import Office
from kiosk.store.db import transaction

MOVED_OUT = "moved out (not in the ledger)"


@dataclass(frozen=True)
class Refusal:
    """A row not imported: its line and the catalogue key (``ledger.refused.<key>``) saying why."""

    line: int
    key: str
    params: tuple[tuple[str, object], ...] = ()

    def text(self, language: str | None = None) -> str:
        params = dict(self.params)
        if "fields" in params:  # field names, said in the language asked for
            params["fields"] = t("ledger.separator", language).join(
                t(f"ledger.field.{name}", language) for name in params["fields"])
        return t(f"ledger.refused.{self.key}", language, **params)


@dataclass
class ImportReport:
    header_line: int = 0
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (column letter, header)
    refusals: list[Refusal] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, the line it repeats)
    new: list[Resident] = field(default_factory=list)
    changed: list[tuple[Resident, list[str]]] = field(default_factory=list)
    unchanged: int = 0
    gone: list[Resident] = field(default_factory=list)
    new_plates: list[str] = field(default_factory=list)
    gone_plates: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    removed: bool = False

    @property
    def errors(self) -> list[tuple[int, str]]:
        """(line, reason) of every refused row, in the process's language."""
        return [(r.line, r.text()) for r in self.refusals]

    @property
    def refused_rows(self) -> int:
        return len({r.line for r in self.refusals})

    @property
    def imported(self) -> int:
        return len(self.new) + len(self.changed) + self.unchanged if self.applied else 0


@dataclass
class _Reading:
    """What one import has read so far (rows kept, their lines by content, id and identity)."""

    rows: list[tuple[int, Resident, list[str]]] = field(default_factory=list)
    by_content: dict[tuple, int] = field(default_factory=dict)
    by_id: dict[str, int] = field(default_factory=dict)
    by_identity: dict[str, tuple[int, str]] = field(default_factory=dict)
    by_plate: dict[str, tuple[int, str]] = field(default_factory=dict)  # plate -> (line, household)


def import_ledger(office: Office, path: Path, site_id: str, now: datetime, strict: bool = False,
                  dry_run: bool = False, remove_gone: bool = False) -> ImportReport:
    """Bring the site's residents in line with the ledger; see the module's text.

    ``strict``: nothing is written when any row is refused. ``dry_run``: nothing is written,
    the report says what would change. ``remove_gone``: persons and plates of the site that
    are not in the ledger are removed (their passes revoked).
    """
    table = read_table(path)
    report = ImportReport(table.header_line, table.ignored, dry_run=dry_run)
    zone = ZoneInfo(office.config["timezone"])
    reading = _read_rows(office, table.rows, site_id, now, zone, report)
    _compare(office, reading, site_id, now, report)
    if dry_run or (strict and report.refusals):
        return report
    with transaction(office.db):
        for _, person, plates in reading.rows:
            residents.save_resident(office.db, person)
            for plate in plates:
                residents.add_plate(office.db, plate, person.household_id)
        if remove_gone and not report.refusals:  # a refused row's person is in the ledger still
            for person in report.gone:
                residents.remove_person(office.db, person.person_id, MOVED_OUT)
            for plate in report.gone_plates:
                residents.remove_vehicle(office.db, plate, MOVED_OUT)
    report.applied, report.removed = True, remove_gone and not report.refusals
    return report


def _read_rows(office: Office, rows: list, site_id: str, now: datetime, zone: ZoneInfo,
               report: ImportReport) -> _Reading:
    key = identity.identity_key(office.config.keys_dir)
    known = {r["id_hash"]: r["person_id"] for r in office.db.query(
        "SELECT id_hash, person_id FROM person_records WHERE id_hash IS NOT NULL")}
    reading = _Reading()
    today = now.astimezone(zone).date()
    for line, cells in rows:
        try:
            person, plates = _resident(cells, site_id, today, zone, key)
        except RowRefused as refused:
            report.refusals += refused.refusals(line)
            continue
        if refusal := _duplicate(reading, line, person, plates, known, report):
            if refusal is not True:
                report.refusals.append(refusal)
            continue
        reading.rows.append((line, person, plates))
    return reading


def _duplicate(reading: _Reading, line: int, person: Resident, plates: list[str], known: dict[str, str],
               report: ImportReport) -> Refusal | bool | None:
    """A refusal for a second row of one person; True for an exact repeat (reported, skipped)."""
    content = (*dataclasses.astuple(person), *plates)
    if content in reading.by_content:
        report.duplicates.append((line, reading.by_content[content]))
        return True
    if person.person_id in reading.by_id:
        return Refusal(line, "duplicate_id", (("id", person.person_id), ("other", reading.by_id[person.person_id])))
    if person.id_hash in reading.by_identity:
        other_line, other_id = reading.by_identity[person.id_hash]
        return Refusal(line, "duplicate_identity", (("other", other_line), ("other_id", other_id)))
    if person.id_hash and known.get(person.id_hash, person.person_id) != person.person_id:
        return Refusal(line, "identity_registered", (("other_id", known[person.id_hash]),))
    for plate in plates:
        other_line, household = reading.by_plate.get(plate, (line, person.household_id))
        if household != person.household_id:
            return Refusal(line, "plate_elsewhere", (("plate", plate), ("other", other_line)))
    reading.by_plate.update((plate, (line, person.household_id)) for plate in plates)
    reading.by_content[content] = line
    reading.by_id[person.person_id] = line
    if person.id_hash:
        reading.by_identity[person.id_hash] = (line, person.person_id)
    return None


class RowRefused(Exception):
    """A row (or a person typed on the command line) cannot be read: each reason a catalogue key and its values."""

    def __init__(self, reasons: list[tuple[str, tuple]]) -> None:
        super().__init__(", ".join(key for key, _ in reasons))
        self.reasons = reasons

    def refusals(self, line: int) -> list[Refusal]:
        return [Refusal(line, key, params) for key, params in self.reasons]

    def text(self) -> str:
        return t("ledger.reasons_separator").join(r.text() for r in self.refusals(0))


def resident_from_cells(cells: dict[str, object], site_id: str, office: Office, now: datetime) -> tuple[Resident, list[str]]:
    """A resident from cells named as the ledger's fields (``kiosk office person add``); raises RowRefused."""
    zone = ZoneInfo(office.config["timezone"])
    key = identity.identity_key(office.config.keys_dir)
    return _resident({k: v for k, v in cells.items() if v is not None}, site_id, now.astimezone(zone).date(), zone, key)


ADDRESS_PARTS = ("building", "unit", "room")  # or one address cell (ledger_fields.address)


def _resident(cells: dict[str, object], site_id: str, today: date, zone: ZoneInfo,
              key: bytes) -> tuple[Resident, list[str]]:
    """The row's resident and plates; RowRefused naming every cell that cannot be read."""
    values = {name: ledger_fields.text(cell) for name, cell in cells.items()}
    problems: list[tuple[str, tuple]] = []

    def read(reader, value, *args):
        try:
            return reader(value, *args)
        except CellError as exc:
            problems.append((f"bad_{exc.code}", (("value", exc.value),)))
        except IdentityError as exc:
            problems.append((exc.code, (("value", identity.mask(value)),)))
        return None

    from_address = bool(values.get("address")) and not any(values.get(name) for name in ADDRESS_PARTS)
    if from_address and (parts := read(ledger_fields.address, values["address"])):
        values.update(zip(ADDRESS_PARTS, parts))
    # an address that cannot be split is said once, not also as three missing fields
    missing = tuple(name for name in REQUIRED if not values.get(name) and not (from_address and name in ADDRESS_PARTS))
    if missing:
        problems.append(("missing", (("fields", missing),)))
    given_id = read(ledger_fields.person_id, values["id"]) if values.get("id") else None
    number = read(identity.check_number, values["identity"]) if values.get("identity") else None
    phone, cadre_phone = (read(ledger_fields.phone, values.get(name, "")) for name in ("phone", "cadre_phone"))
    plates = read(ledger_fields.plates, values.get("plate", ""))
    health = read(ledger_fields.health, values.get("health", ""))
    since, until = (read(ledger_fields.day, cells.get(name), today) for name in ("health_since", "health_until"))
    if problems:
        raise RowRefused(problems)
    person = Resident(
        person_id="", name=values["name"], site_id=site_id,
        building=ledger_fields.building(values["building"]), unit=ledger_fields.unit(values["unit"]),
        room=ledger_fields.room(values["room"]), phone=phone, health=health,
        health_since=day_start(since, zone) if since else None,
        health_until=day_start(until + timedelta(days=1), zone) if until else None,  # the day is included
        cadre_name=values.get("cadre_name") or None, cadre_phone=cadre_phone,
        id_hash=identity.number_hash(key, number) if number else None,
        id_masked=identity.mask(number) if number else None,
        **{name: values.get(name) or None for name in ("gender", "relation", "household_no", "note")})
    person.person_id = given_id or derived_id(person)
    return person, plates


def derived_id(person: Resident) -> str:
    """An id for a ledger row without 编号, the same in every later ledger.

    From the identity number when there is one (its keyed hash: the id reaches the gates, the
    number must not, nor a hash anyone could reverse by trying birth dates); else from the
    household and the name (a person moving flat then gets a new id).
    """
    if person.id_hash:
        return "R" + person.id_hash[:12].upper()
    seed = "|".join((person.site_id, person.building, person.unit, person.room, person.name))
    return "H" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:12].upper()


def day_start(day: date, zone: ZoneInfo) -> str:
    return utc_text(datetime.combine(day, time(0), tzinfo=zone))


def _compare(office: Office, reading: _Reading, site_id: str, now: datetime, report: ImportReport) -> None:
    stored = {p.person_id: p for p in residents.residents(office.db, site_id)}
    for _, person, _ in reading.rows:
        before = stored.get(person.person_id)
        if person.health_since is None:  # a status that goes on keeps its start; a new one starts now
            same = before is not None and before.health == person.health
            person.health_since = before.health_since if same else (None if person.health == "normal"
                                                                    else utc_text(now))
        if before is None:
            report.new.append(person)
        elif differences := person.differences(before):
            report.changed.append((person, differences))
        else:
            report.unchanged += 1
    read_ids = {person.person_id for _, person, _ in reading.rows}
    report.gone = [p for pid, p in stored.items() if pid not in read_ids]
    plates = residents.site_plates(office.db, site_id)
    ledger_plates = {plate: person.household_id for _, person, row_plates in reading.rows for plate in row_plates}
    report.new_plates = sorted(p for p, household in ledger_plates.items() if plates.get(p) != household)
    report.gone_plates = sorted(p for p in plates if p not in ledger_plates)
