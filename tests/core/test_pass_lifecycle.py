"""Issue 11, the pass lifecycle: issuing without doubles, refusals, find / unblock / reissue,
key rotation through a real bundle on a gate, visitors and deliveries decided by the same rules."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from kiosk.core import passes
from kiosk.core.rules import Scan
from kiosk.core.signing import key_id
from kiosk.gate import visitors as gate_visitors
from kiosk.office import pass_book
from kiosk.office import service as office_mod
from kiosk.office import visitors as office_visitors
from kiosk.office.service import OfficeError
from kiosk.store import guards, registry
from kiosk.store.db import transaction
from tests.conftest import NOW

HOME = "jinan:1-1-101"  # R001 张晓明, R002 张丽 and the car 陕H12345


def person(token: str, direction: str, temperature: float | None = 36.5) -> Scan:
    return Scan(direction=direction, token=token, temperature=temperature)


def outcome(result) -> tuple[str, tuple[str, ...]]:
    return result.decision.outcome, result.decision.codes


def pass_count(office) -> int:
    return office.db["passes"].count


# --- issuing -------------------------------------------------------------------------------

def test_issuing_for_nobody_or_for_another_compound_is_refused(office):
    with pytest.raises(OfficeError) as nobody:
        office_mod.issue_pass(office, subject_kind="resident", subject_id="NOBODY-123", site_id="jinan", now=NOW)
    assert (nobody.value.code, str(nobody.value)) == ("unknown_subject", "名册中没有居民 NOBODY-123，不能发证")
    with pytest.raises(OfficeError) as site:
        office_mod.issue_pass(office, subject_kind="resident", subject_id="R001", site_id="longhai", now=NOW)
    assert (site.value.code, str(site.value)) == ("unknown_site", "本办公室不管理小区 longhai（管理的小区：jinan）")
    with transaction(office.db):
        office.db["households"].insert({"id": "longhai:1-1-1", "site_id": "longhai", "building": "1", "unit": "1",
                                        "room": "1"})
        office.db["persons"].insert({"id": "L001", "name": "马文", "household_id": "longhai:1-1-1"})
    with pytest.raises(OfficeError) as other:
        office_mod.issue_pass(office, subject_kind="resident", subject_id="L001", site_id="jinan", now=NOW)
    assert (other.value.code, str(other.value)) == ("subject_other_site", "L001 属于小区 longhai，不能发 jinan 的通行证")
    assert pass_count(office) == 8  # the demo's passes, nothing more


def test_issuing_to_everyone_skips_holders_reports_the_impossible_and_never_doubles(office):
    with transaction(office.db):  # a resident whose id cannot go into a pass (more than 20 bytes)
        office.db["persons"].insert({"id": "R-一个特别特别长的编号", "name": "长", "household_id": HOME})
    wanted = pass_book.everyone(office, "jinan")
    first = pass_book.issue_missing(office, "jinan", wanted, NOW, 30)
    # the demo holds valid passes for R001-R005, R007 and the car 陕H12345; R008's was revoked
    assert sorted((i.subject_kind, i.subject_id) for i in first.issued) == [
        ("resident", "R006"), ("resident", "R008"), ("vehicle", "陕H6789A")]
    assert sorted(subject for _, subject, _ in first.held) == ["R001", "R002", "R003", "R004", "R005", "R007",
                                                               "陕H12345"]
    assert [(kind, subject, exc.code) for kind, subject, exc in first.refused] == [
        ("resident", "R-一个特别特别长的编号", "cannot_issue")]
    assert pass_count(office) == 8 + 3
    again = pass_book.issue_missing(office, "jinan", wanted, NOW, 30)
    assert (len(again.issued), len(again.held), len(again.refused)) == (0, 10, 1)
    assert pass_count(office) == 8 + 3
    # a pass that has expired is no longer held: its subject gets a new one
    later = pass_book.issue_missing(office, "jinan", [("resident", "R001")], NOW + timedelta(days=31), 30)
    assert [i.subject_id for i in later.issued] == ["R001"]


# --- finding, unblocking, reissuing ------------------------------------------------------------

def test_passes_are_found_by_person_household_and_plate(office, community):
    by_person = pass_book.find_passes(office, person="R001")
    assert [(r["id"], r["name"], r["household_id"], r["building"]) for r in by_person] == [
        (community.pass_ids["resident"], "张晓明", HOME, "1")]
    by_household = pass_book.find_passes(office, household=HOME)
    assert sorted(r["subject_id"] for r in by_household) == ["R001", "R002", "陕H12345"]
    assert [r["id"] for r in pass_book.find_passes(office, plate="陕h 12345")] == [community.pass_ids["vehicle"]]
    assert pass_book.find_passes(office, plate="陕H00000") == []
    with pytest.raises(OfficeError, match="no pass PNOSUCH"):
        pass_book.get_pass(office, "PNOSUCH")


def test_a_block_is_lifted_and_the_gate_lets_the_pass_through_again(office, gate, community, republish):
    pass_id, token = community.pass_ids["resident"], community.tokens["resident"]
    office_mod.set_pass_status(office, pass_id, "blocked", "dispute")
    republish()
    assert outcome(gate.check(person(token, "in"), record=False)) == ("deny", ("blocked",))
    office_mod.unblock_pass(office, pass_id)
    assert (office.db["passes"].get(pass_id)["status"], office.db["passes"].get(pass_id)["reason"]) == ("active", None)
    republish()
    assert outcome(gate.check(person(token, "in"), record=False)) == ("allow", ())
    with pytest.raises(OfficeError) as refused:  # a revoked pass stays revoked
        office_mod.unblock_pass(office, community.pass_ids["revoked"])
    assert refused.value.code == "not_blocked"


def test_a_reissue_revokes_the_old_pass_in_the_same_step(office, gate, community, republish):
    old_id, old_token = community.pass_ids["resident"], community.tokens["resident"]
    new = office_mod.issue_pass(office, subject_kind="resident", subject_id="R001", site_id="jinan", now=NOW,
                                replace=True)
    rows = {r["id"]: (r["status"], r["reason"]) for r in pass_book.find_passes(office, person="R001")}
    assert rows == {old_id: ("revoked", f"reissued as {new.pass_id}"), new.pass_id: ("active", None)}
    republish()
    assert outcome(gate.check(person(old_token, "in"), record=False)) == ("deny", ("revoked",))
    assert outcome(gate.check(person(new.token, "in"), record=False)) == ("allow", ())
    with pytest.raises(OfficeError):  # refused before anything is revoked
        office_mod.issue_pass(office, subject_kind="resident", subject_id="R001", site_id="longhai", now=NOW,
                              replace=True)
    assert office.db["passes"].get(new.pass_id)["status"] == "active"


# --- key rotation ------------------------------------------------------------------------------

def test_after_a_key_rotation_the_gate_accepts_old_and_new_passes(office, gate, community, tmp_path):
    old_kid = key_id(office.signing_key().public_key())
    assert set(registry.trusted_keys(gate.db)) == {old_kid}  # the gate knows only the old key
    rotation = office_mod.rotate_key(office, NOW)
    new_kid = key_id(office.signing_key().public_key())
    assert (rotation.old_key_id, rotation.new_key_id) == (old_kid, new_kid) and new_kid != old_kid
    assert rotation.carry_until == "2026-12-29T02:00:00.000Z"  # when the demo's passes (30 days) end
    assert (office.config.home / "office-public-key.txt").read_text().strip() == rotation.new_public_key
    fresh = office_mod.issue_pass(office, subject_kind="resident", subject_id="R006", site_id="jinan", now=NOW)
    assert passes.parse(fresh.token)[2].key_id == new_kid

    _, path = office_mod.write_bundle(office, "jinan", NOW, tmp_path / "rotated.bundle")
    envelope = json.loads(path.read_bytes())
    assert envelope["key_id"] == new_kid and [e["key_id"] for e in envelope["endorsements"]] == [old_kid]
    info = registry.load_bundle_file(gate.db, path, "jinan", NOW)  # endorsed by the key the gate trusts
    assert info.key_id == new_kid
    assert set(registry.trusted_keys(gate.db)) == {old_kid, new_kid}
    assert outcome(gate.check(person(community.tokens["resident"], "in"), record=False)) == ("allow", ())
    assert outcome(gate.check(person(fresh.token, "in"), record=False)) == ("allow", ())

    # once the old passes have expired, bundles carry the new key alone
    after = NOW + timedelta(days=31)
    _, later = office_mod.write_bundle(office, "jinan", after, tmp_path / "later.bundle")
    payload = registry.open_bundle(later.read_bytes(), registry.trusted_keys(gate.db))
    assert [text.split(":")[1] for text in payload["trusted_keys"]] == [new_kid]
    assert "endorsements" not in json.loads(later.read_bytes())


def test_a_rotation_that_cannot_be_recorded_leaves_the_old_key_in_place(office):
    before = (office.key_path.read_bytes(), (office.config.home / "office-public-key.txt").read_text())
    office.db.conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON signing_keys "
                           "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        office_mod.rotate_key(office, NOW)
    assert (office.key_path.read_bytes(), (office.config.home / "office-public-key.txt").read_text()) == before
    assert list((office.config.keys_dir / office_mod.RETIRED_KEYS).iterdir()) == []
    assert office.db["signing_keys"].count == 0


def test_a_bundle_endorsed_by_no_trusted_key_is_still_refused(office, gate, other_key, tmp_path):
    _, path = office_mod.write_bundle(office, "jinan", NOW, tmp_path / "b.bundle")
    envelope = json.loads(path.read_bytes())
    envelope["key_id"] = "00000000"
    envelope["endorsements"] = [{"key_id": key_id(other_key.public_key()), "signature": envelope["signature"]}]
    with pytest.raises(registry.BundleError) as refused:
        registry.load_bundle(gate.db, json.dumps(envelope).encode(), "jinan", NOW)
    assert refused.value.code == "unknown_key"


# --- visitors and deliveries -------------------------------------------------------------------

def test_an_office_visitor_pass_is_decided_by_the_same_rules(office, gate, community, republish):
    issued = office_visitors.issue_visitor(office, site_id="jinan", name="王芳", phone="13900000001",
                                           household_id=HOME, purpose="探亲", hours=4, now=NOW - timedelta(minutes=5))
    row = office.db["passes"].get(issued.pass_id)
    assert (row["subject_kind"], row["valid_until"]) == ("visitor", "2026-11-29T05:55:00.000Z")
    info = republish()
    assert info.counts["visitors"] == 1
    entered = gate.check(person(issued.token, "in"))
    assert outcome(entered) == ("allow", ())
    assert (entered.event["subject_kind"], entered.event["household_id"]) == ("visitor", HOME)
    assert outcome(gate.check(person(issued.token, "in", 38.4), NOW + timedelta(minutes=1), record=False)) == \
        ("deny", ("fever", "passback"))
    # the host household's exit quota (1 member a day in the demo) is not the visitor's
    assert outcome(gate.check(person(community.tokens["resident"], "out"), NOW + timedelta(minutes=2))) == \
        ("allow", ())
    assert outcome(gate.check(person(issued.token, "out"), NOW + timedelta(minutes=3))) == ("allow", ())
    assert outcome(gate.check(person(issued.token, "in"), NOW + timedelta(hours=4), record=False)) == \
        ("deny", ("expired",))


def test_office_visitor_refusals(office):
    with pytest.raises(OfficeError) as unknown:
        office_visitors.issue_visitor(office, site_id="jinan", name="王芳", phone="", household_id="jinan:9-9-999",
                                      purpose="", hours=4, now=NOW)
    assert (unknown.value.code, str(unknown.value)) == ("unknown_household", "小区 jinan 没有户 jinan:9-9-999")
    with pytest.raises(OfficeError) as hours:
        office_visitors.issue_visitor(office, site_id="jinan", name="王芳", phone="", household_id=HOME,
                                      purpose="", hours=0, now=NOW)
    assert hours.value.code == "bad_hours"
    assert office.db["visitors"].count == 0


def test_a_supervisor_issues_a_visitor_pass_at_the_gate(gate, republish):
    with pytest.raises(guards.GuardError) as guard:
        gate_visitors.issue_at_gate(gate, supervisor_id="G001", pin="1234", name="王芳", phone="", household_id=HOME,
                                    purpose="维修", hours=2, now=NOW)
    assert guard.value.code == "supervisor_required"
    row = gate_visitors.issue_at_gate(gate, supervisor_id="S001", pin="999999", name="王芳", phone="139", household_id=HOME,
                                      purpose="维修", hours=2, now=NOW)
    issued = gate.db.query("SELECT * FROM events WHERE kind = 'visitor_pass'")
    assert [(e["guard_id"], e["pass_id"], e["household_id"]) for e in issued] == [("S001", row["id"], HOME)]
    republish()  # a new bundle does not wipe the gate's own visitor passes
    typed = Scan(direction="in", pass_id=row["id"], temperature=36.6, source="manual", lane="in")
    result = gate.check(typed, NOW + timedelta(minutes=10))
    assert outcome(result) == ("allow", ())
    assert (result.event["kind"], result.event["subject_kind"], result.event["household_id"]) == \
        ("manual", "visitor", HOME)
    assert outcome(gate.check(typed, NOW + timedelta(hours=2), record=False)) == ("deny", ("expired",))
    with pytest.raises(gate_visitors.VisitorError):
        gate_visitors.issue_at_gate(gate, supervisor_id="S001", pin="999999", name="王芳", phone="",
                                    household_id=HOME, purpose="", hours=25, now=NOW)


def test_a_delivery_is_logged_without_a_pass_and_its_temperature_judged(gate):
    decision, event = gate_visitors.log_delivery(gate, name="李师傅", company="顺丰", phone="13700000000",
                                                 household_id=HOME, temperature=36.5, lane=None, direction="in",
                                                 now=NOW)
    assert (decision.outcome, decision.codes) == ("allow", ())
    assert (event["kind"], event["outcome"], event["pass_id"], event["subject_kind"], event["temperature"]) == \
        ("delivery", "allow", None, None, 36.5)
    data = json.loads(event["data"])
    assert (data["company"], data["for_household"], data["temperature_source"]) == ("顺丰", HOME, "typed")
    fever, _ = gate_visitors.log_delivery(gate, name="", company="美团", phone="", household_id=HOME,
                                          temperature=38.0, lane="in", direction="in", now=NOW)
    assert (fever.outcome, fever.codes) == ("deny", ("fever",))
    missing, _ = gate_visitors.log_delivery(gate, name="", company="美团", phone="", household_id=HOME,
                                            temperature=None, lane="in", direction="in", now=NOW)
    assert (missing.outcome, missing.codes) == ("refer", ("temperature_missing",))
    assert gate.db["events"].count_where("kind = 'delivery'") == 3
    with pytest.raises(gate_visitors.VisitorError) as nowhere:
        gate_visitors.log_delivery(gate, name="李", company="", phone="", household_id="jinan:9-9-9",
                                   temperature=36.5, lane=None, direction="in", now=NOW)
    assert nowhere.value.code == "unknown_household"
