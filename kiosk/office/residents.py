"""The office's residents: persons, their households, vehicles and health, as the office keeps them.

A resident's identity number stays in ``person_records`` (office only: a keyed hash and a
masked form); the registry tables that go into bundles never hold it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from kiosk.core.clock import utc_text
from kiosk.core.errors import KioskError
from kiosk.core.plates import normalise_plate
from kiosk.office import identity
from kiosk.office.service import HEALTH_STATUSES
from kiosk.store.db import transaction

RECORD_FIELDS = ("id_hash", "id_masked", "gender", "relation", "household_no", "note")


class ResidentError(KioskError):
    """A registry edit was refused (``unknown_person``, ``unknown_household``, ``bad_status``, ``exists``)."""


@dataclass
class Resident:
    """One person with everything the office knows about them (``health_*`` as UTC texts)."""

    person_id: str
    name: str
    site_id: str
    building: str
    unit: str
    room: str
    phone: str | None = None
    health: str = "normal"
    health_since: str | None = None
    health_until: str | None = None
    cadre_name: str | None = None
    cadre_phone: str | None = None
    id_hash: str | None = None
    id_masked: str | None = None
    gender: str | None = None
    relation: str | None = None
    household_no: str | None = None
    note: str | None = None

    @property
    def household_id(self) -> str:
        return household_id(self.site_id, self.building, self.unit, self.room)

    def differences(self, other: "Resident") -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def household_id(site_id: str, building: str, unit: str, room: str) -> str:
    return f"{site_id}:{building}-{unit}-{room}"


def save_resident(db: sqlite_utils.Database, resident: Resident) -> None:
    """Insert or update the person, their household, health and office-only record.

    A person who moved flat leaves their former household; left empty, it is dropped.
    """
    former = db.conn.execute("SELECT household_id FROM persons WHERE id = ?", [resident.person_id]).fetchone()
    with transaction(db):
        db["households"].upsert({"id": resident.household_id, "site_id": resident.site_id,
                                 "building": resident.building, "unit": resident.unit, "room": resident.room},
                                pk="id")
        db["persons"].upsert({"id": resident.person_id, "name": resident.name,
                              "household_id": resident.household_id, "phone": resident.phone}, pk="id")
        db["health"].upsert({"person_id": resident.person_id, "status": resident.health,
                             "since": resident.health_since, "until": resident.health_until,
                             "cadre_name": resident.cadre_name, "cadre_phone": resident.cadre_phone},
                            pk="person_id")
        db["person_records"].upsert({"person_id": resident.person_id,
                                     **{name: getattr(resident, name) for name in RECORD_FIELDS}},
                                    pk="person_id")
        if former and former[0] != resident.household_id:
            _drop_if_empty(db, former[0])


def residents(db: sqlite_utils.Database, site_id: str | None = None, where: str = "1",
              params: tuple = ()) -> list[Resident]:
    """The residents (of one site), by id; ``where`` filters on p (persons), h (households) and r."""
    rows = db.query(
        "SELECT p.id AS person_id, p.name, h.site_id, h.building, h.unit, h.room, p.phone, "
        "coalesce(x.status, 'normal') AS health, x.since AS health_since, x.until AS health_until, "
        "x.cadre_name, x.cadre_phone, r.id_hash, r.id_masked, r.gender, r.relation, r.household_no, r.note "
        "FROM persons p JOIN households h ON h.id = p.household_id LEFT JOIN health x ON x.person_id = p.id "
        f"LEFT JOIN person_records r ON r.person_id = p.id WHERE (? IS NULL OR h.site_id = ?) AND ({where}) "
        "ORDER BY p.id", [site_id, site_id, *params])
    return [Resident(**row) for row in rows]


def resident(db: sqlite_utils.Database, person_id: str) -> Resident:
    found = residents(db, where="p.id = ?", params=(person_id,))
    if not found:
        raise ResidentError("unknown_person", f"no person {person_id}")
    return found[0]


def add_plate(db: sqlite_utils.Database, plate: str, household: str) -> None:
    db["vehicles"].upsert({"plate": normalise_plate(plate), "household_id": household, "note": None}, pk="plate")


def site_plates(db: sqlite_utils.Database, site_id: str) -> dict[str, str]:
    """plate -> household id of every vehicle of a site."""
    return {row["plate"]: row["household_id"] for row in db.query(
        "SELECT v.plate, v.household_id FROM vehicles v JOIN households h ON h.id = v.household_id "
        "WHERE h.site_id = ?", [site_id])}


def remove_person(db: sqlite_utils.Database, person_id: str, reason: str) -> int:
    """Remove a person who moved out: their passes revoked, their empty household dropped.

    Returns how many active passes were revoked.
    """
    person = db["persons"].get(person_id) if db["persons"].count_where("id = ?", [person_id]) else None
    if person is None:
        raise ResidentError("unknown_person", f"no person {person_id}")
    with transaction(db):
        revoked = _revoke(db, "resident", person_id, reason)
        for table, key in (("health", "person_id"), ("person_records", "person_id"), ("person_photos", "person_id"),
                           ("persons", "id")):
            db.conn.execute(f"DELETE FROM {table} WHERE {key} = ?", [person_id])
        _drop_if_empty(db, person["household_id"])
    return revoked


def remove_vehicle(db: sqlite_utils.Database, plate: str, reason: str) -> int:
    plate = normalise_plate(plate)
    with transaction(db):
        household = db.conn.execute("SELECT household_id FROM vehicles WHERE plate = ?", [plate]).fetchone()
        revoked = _revoke(db, "vehicle", plate, reason)
        db.conn.execute("DELETE FROM vehicles WHERE plate = ?", [plate])
        if household:
            _drop_if_empty(db, household[0])
    return revoked


def _revoke(db: sqlite_utils.Database, kind: str, subject: str, reason: str) -> int:
    return db.conn.execute("UPDATE passes SET status = 'revoked', reason = ? WHERE subject_kind = ? "
                           "AND subject_id = ? AND status != 'revoked'", [reason, kind, subject]).rowcount


def _drop_if_empty(db: sqlite_utils.Database, household: str | None) -> None:
    db.conn.execute("DELETE FROM households WHERE id = ? AND NOT EXISTS (SELECT 1 FROM persons WHERE "
                    "household_id = ?) AND NOT EXISTS (SELECT 1 FROM vehicles WHERE household_id = ?)",
                    [household, household, household])


def set_health(db: sqlite_utils.Database, person_id: str, status: str, now: datetime, until: str | None = None,
               cadre_name: str | None = None, cadre_phone: str | None = None) -> Resident:
    """Change one person's health status (居家隔离 until a day, with the cadre who follows it)."""
    if status not in HEALTH_STATUSES:
        raise ResidentError("bad_status", f"status must be one of {', '.join(HEALTH_STATUSES)}")
    person = resident(db, person_id)
    changed = dataclasses.replace(person, health=status, health_until=until,
                                  health_since=person.health_since if person.health == status else utc_text(now),
                                  cadre_name=person.cadre_name if cadre_name is None else cadre_name,
                                  # a new cadre does not inherit the former one's phone
                                  cadre_phone=cadre_phone if cadre_phone or cadre_name else person.cadre_phone)
    save_resident(db, changed)
    return changed


def search(db: sqlite_utils.Database, text: str, key: bytes, site_id: str | None = None) -> list[Resident]:
    """Residents whose id, name, phone or household plate contains ``text``, or whose identity number it is."""
    number_hash = identity.number_hash(key, text) if identity.looks_like_number(text) else None
    like = f"%{text}%"
    return residents(db, site_id, where=(
        "p.id = ? OR p.name LIKE ? OR p.phone LIKE ? OR r.id_hash = ? OR EXISTS (SELECT 1 FROM vehicles v "
        "WHERE v.household_id = p.household_id AND v.plate LIKE ?)"),
        params=(text, like, like, number_hash, f"%{normalise_plate(text)}%"))


def households(db: sqlite_utils.Database, site_id: str | None = None, text: str = "") -> list[dict]:
    """Households (of a site) with their member and vehicle counts; ``text`` filters on id and members' names."""
    return list(db.query(
        "SELECT h.*, (SELECT count(*) FROM persons p WHERE p.household_id = h.id) AS persons, "
        "(SELECT count(*) FROM vehicles v WHERE v.household_id = h.id) AS vehicles FROM households h "
        "WHERE (? IS NULL OR h.site_id = ?) AND (? = '' OR h.id LIKE ? OR EXISTS (SELECT 1 FROM persons p "
        "WHERE p.household_id = h.id AND p.name LIKE ?)) ORDER BY h.id",
        [site_id, site_id, text, f"%{text}%", f"%{text}%"]))


def household(db: sqlite_utils.Database, household_id: str) -> dict:
    """A household with its members and plates."""
    found = list(db.query("SELECT * FROM households WHERE id = ?", [household_id]))
    if not found:
        raise ResidentError("unknown_household", f"no household {household_id}")
    members = residents(db, where="p.household_id = ?", params=(household_id,))
    plates = [r["plate"] for r in db.query("SELECT plate FROM vehicles WHERE household_id = ? ORDER BY plate",
                                           [household_id])]
    return {**found[0], "members": members, "plates": plates}


def add_resident(db: sqlite_utils.Database, person: Resident) -> None:
    """A new person (a newcomer between two ledgers); refuses an id or identity number already held."""
    if db["persons"].count_where("id = ?", [person.person_id]):
        raise ResidentError("exists", f"person {person.person_id} exists already")
    if person.id_hash and db["person_records"].count_where("id_hash = ?", [person.id_hash]):
        raise ResidentError("identity_registered", "this identity number is registered for another person")
    save_resident(db, person)
