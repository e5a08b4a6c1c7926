"""Ledger import of ledgers as communities keep them (issue 11): exact counts and reported lines."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime

import pytest

from kiosk.gate.service import Gate
from kiosk.office import ledger, ledger_report
from kiosk.office import service as office_mod
from kiosk.office.ledger_table import LedgerError
from kiosk.store import registry
from kiosk.store.config import create_home
from tests.conftest import NOW, SHANGHAI
from tests.office.ledgers import identity_number, jinan_ledger, write_csv, write_xlsx

ZONE = SHANGHAI
COUNTS = "SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM households), " \
         "(SELECT count(phone) FROM persons), (SELECT count(until) FROM health), " \
         "(SELECT count(cadre_name) FROM health), (SELECT count(*) FROM vehicles)"


def counts(office) -> tuple:
    """(persons, households, phones, health deadlines, cadres, vehicles)."""
    return tuple(office.db.conn.execute(COUNTS).fetchone())


@pytest.mark.parametrize("writer", ["xlsx", "csv"])
def test_the_issues_564_row_ledger_with_a_title_row_imports_every_person(fresh_office, tmp_path, writer):
    rows = jinan_ledger()
    path = write_xlsx(tmp_path / "金岸台账.xlsx", rows, merge_title=True) if writer == "xlsx" \
        else write_csv(tmp_path / "金岸台账.csv", rows, "gbk")
    report = ledger.import_ledger(fresh_office, path, "jinan", NOW)
    assert (report.header_line, report.ignored, report.refusals, report.duplicates) == (2, [("A", "序号")], [], [])
    assert (len(report.new), report.imported) == (564, 564)
    assert counts(fresh_office) == (564, 188, 507, 58, 70, 47)
    statuses = dict(fresh_office.db.conn.execute("SELECT status, count(*) FROM health GROUP BY status").fetchall())
    assert statuses == {"normal": 494, "home_isolation": 29, "health_monitoring": 29, "central_quarantine": 12}
    plates = [r[0] for r in fresh_office.db.conn.execute("SELECT plate FROM vehicles ORDER BY plate")]
    assert plates[:4] == ["陕HB6500", "陕HB6504", "陕HB6508", "陕HB6512"]
    assert ["陕H·B6500", "陕ＨＢ６５０４", "陕h b6508"] == [rows[2][10], rows[14][10], rows[26][10]]
    first = fresh_office.db["persons"].get(ledger.derived_id(report.new[0]))
    assert (first["name"], first["household_id"]) == ("王伟伟", "jinan:1-1-101")  # 王　伟伟, 1号楼 1单元 101室
    deadlines = {r[0] for r in fresh_office.db.conn.execute("SELECT until FROM health WHERE until IS NOT NULL")}
    # 2026-12-10 and 12月10日 alike: the measure ends when 10 December ends in Shanghai
    assert deadlines == {"2026-12-10T16:00:00.000Z", "2026-12-11T16:00:00.000Z", "2026-12-15T16:00:00.000Z",
                         "2026-12-12T16:00:00.000Z"}


def test_reimporting_the_same_ledger_changes_nothing(fresh_office, tmp_path):
    path = write_csv(tmp_path / "台账.csv", jinan_ledger(60), "utf-8-sig")
    ledger.import_ledger(fresh_office, path, "jinan", NOW)
    again = ledger.import_ledger(fresh_office, path, "jinan", NOW)
    assert (again.new, again.changed, again.unchanged, again.gone) == ([], [], 60, [])
    assert counts(fresh_office) == (60, 20, 54, 6, 8, 5)


def test_a_newer_ledger_is_a_sync_and_one_flag_removes_the_gone(fresh_office, tmp_path):
    rows = jinan_ledger(30)  # rows[2 + n] is person n
    first = ledger.import_ledger(fresh_office, write_csv(tmp_path / "v1.csv", rows), "jinan", NOW)
    leaving = first.new[3].person_id
    issued = office_mod.issue_pass(fresh_office, subject_kind="resident", subject_id=leaving, site_id="jinan", now=NOW)
    newer = [row[:] for row in rows[:5] + rows[6:-1]]  # person 3 moved out, the last one too
    newer[6][5] = "13800000000"  # person 5 has a new phone
    newer.append([99, "H999", "新来", "女", identity_number(999), "", "12", "3", "601", "户主", "陕A12345", "", "",
                  "", "", ""])
    path = write_csv(tmp_path / "v2.csv", newer)
    preview = ledger.import_ledger(fresh_office, path, "jinan", NOW, dry_run=True)
    assert ([p.name for p in preview.new], [(p.person_id, fields) for p, fields in preview.changed],
            [p.person_id for p in preview.gone], preview.new_plates, preview.unchanged) == (
        ["新来"], [(first.new[5].person_id, ["phone"])], sorted([leaving, first.new[29].person_id]), ["陕A12345"], 27)
    assert (preview.applied, counts(fresh_office)[0]) == (False, 30)  # a dry run writes nothing
    kept = ledger.import_ledger(fresh_office, path, "jinan", NOW)
    assert (kept.removed, counts(fresh_office)[0]) == (False, 31)  # gone persons stay without the flag
    assert [line.text for line in ledger_report.lines(kept, "v2.csv", ZONE)][-2:] == [
        "新增 1 人，变更 1 人，未变 27 人，台账中已没有 2 人；拒绝 0 行，重复 0 行",
        "台账中已没有的人员和车辆仍保留；加 --remove-gone 删除"]
    removed = ledger.import_ledger(fresh_office, path, "jinan", NOW, remove_gone=True)
    assert (removed.removed, len(removed.gone), counts(fresh_office)[0]) == (True, 2, 29)
    assert fresh_office.db["passes"].get(issued.pass_id)["status"] == "revoked"


SMALL_HEADER = ["编号", "姓名", "身份证号", "手机", "楼号", "单元", "门牌号", "车牌", "健康状况", "解除日期", "网格员", "网格员电话"]


@pytest.mark.parametrize("encoding, name", [("utf-8", "张三"), ("utf-8-sig", "张三"), ("gbk", "张三"),
                                            ("gb18030", "李䶮")])  # 䶮 is outside GBK
def test_csv_in_every_encoding_excel_saves(fresh_office, tmp_path, encoding, name):
    rows = [["小区台账（2026年11月）"], [], SMALL_HEADER,
            ["L1", name, identity_number(1), "13700000001", "1", "2", "301", "", "居家隔离", "2026.12.15", "小王", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows, encoding), "jinan", NOW)
    assert (report.header_line, report.imported, report.refusals) == (3, 1, [])
    assert fresh_office.db["persons"].get("L1")["name"] == name


def test_full_width_and_suffixed_addresses_make_one_household(fresh_office, tmp_path):
    rows = [SMALL_HEADER,
            ["L1", "张　三", "", "１３７ ０００ ００００１", "１号楼", "３单元", "３０１室", "陕H·B6550", "", "", "", ""],
            ["L2", " 李  四 ", "", "", "1栋", "3", "301", "陕ＨＡ６１６４、陕h-a6165", "", "", "", ""],
            ["L3", "Wang  Wu", "", "", "1号", "3门", "301号", "", "", "", "", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows), "jinan", NOW)
    assert (report.imported, report.refusals) == (3, [])
    people = list(fresh_office.db.query("SELECT id, name, household_id, phone FROM persons ORDER BY id"))
    assert people == [{"id": "L1", "name": "张三", "household_id": "jinan:1-3-301", "phone": "13700000001"},
                      {"id": "L2", "name": "李四", "household_id": "jinan:1-3-301", "phone": None},
                      {"id": "L3", "name": "Wang Wu", "household_id": "jinan:1-3-301", "phone": None}]
    assert [r["plate"] for r in fresh_office.db.query("SELECT plate FROM vehicles ORDER BY plate")] == [
        "陕HA6164", "陕HA6165", "陕HB6550"]
    assert counts(fresh_office) == (3, 1, 1, 0, 0, 3)


def test_an_address_in_one_cell_is_split_into_building_unit_and_room(fresh_office, tmp_path):
    """Many ledgers keep the address in one 住址 column, with the compound's name, full-width
    digits or dashes; one without a unit or in Chinese numerals is refused, not guessed."""
    rows = [["锦楠花园居民台账（2026年11月）", "", "", ""], ["序号", "姓名", "住址", "联系电话"],
            ["1", "张三", "锦楠花园３号楼２单元５０１室", "13700000001"],
            ["2", "李四", "3栋2单元501", ""],
            ["3", "王五", "3-2-501", ""],
            ["4", "赵六", " 12幢 1门 1102 ", ""],
            ["5", "钱七", "3栋501室", ""],
            ["6", "孙八", "三号楼二单元501", ""],
            ["7", "周九", "", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows, "gbk"), "jinan", NOW)
    assert [(r.line, r.text("zh")) for r in report.refusals] == [
        (7, "住址「3栋501室」无法拆分为楼栋、单元、房号（如 3号楼2单元501室、3-2-501）"),
        (8, "住址「三号楼二单元501」无法拆分为楼栋、单元、房号（如 3号楼2单元501室、3-2-501）"),
        (9, "缺少楼栋、单元、房号")]
    assert [(p["name"], p["household_id"]) for p in fresh_office.db.query(
        "SELECT name, household_id FROM persons ORDER BY name")] == [
        ("张三", "jinan:3-2-501"), ("李四", "jinan:3-2-501"), ("王五", "jinan:3-2-501"), ("赵六", "jinan:12-1-1102")]
    assert (report.imported, counts(fresh_office)[:2]) == (4, (4, 2))


def test_duplicates_and_bad_rows_are_reported_with_their_lines(fresh_office, tmp_path):
    good = ["L1", "张三", identity_number(1), "13700000001", "1", "1", "101", "", "", "", "", ""]
    rows = [SMALL_HEADER, good, good[:],  # line 3: the same row again
            ["L2", "张三", identity_number(1), "", "1", "1", "102", "", "", "", "", ""],  # L1's identity number
            ["L1", "张叁", "", "", "1", "1", "103", "", "", "", "", ""],  # L1 again, another person
            ["L3", "王五", "610102195001010004", "", "1", "1", "104", "", "", "", "", ""],  # wrong check digit
            ["L4", "赵六", "61010219500101", "", "1", "1", "105", "", "", "", "", ""],  # 14 digits
            ["../L5", "钱七", "", "", "1", "1", "106", "", "", "", "", ""],
            ["L6", "孙八", "", "电话待补", "1", "1", "107", "", "", "", "", ""],
            ["L7", "周九", "", "", "1", "1", "108", "陕H", "发热", "下周", "", ""],
            ["L8", "", "", "", "1", "", "109", "", "", "", "", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows), "jinan", NOW)
    assert [(r.line, r.text("zh")) for r in report.refusals] == [
        (4, "身份证号与第 2 行（L1）相同"),
        (5, "编号 L1 与第 2 行重复"),
        (6, "身份证号 610102********0004 校验位不对"),
        (7, "身份证号 610102****0101 不是 18 位"),
        (8, "编号「../L5」只能包含字母、数字、- 和 _（最多 32 个）"),
        (9, "电话「电话待补」不是电话号码"),
        (10, "车牌号「陕H」无法识别"),
        (10, "健康状态「发热」无法识别（正常、健康监测、居家隔离、集中隔离）"),
        (10, "日期「下周」无法识别（如 2026-12-10、2026/12/10、12月10日）"),
        (11, "缺少姓名、单元")]
    assert [(r.line, r.text("en")) for r in report.refusals][4:6] == [
        (8, "id '../L5' may hold letters, digits, - and _ only (at most 32)"),
        (9, "phone '电话待补' is not a phone number")]
    assert report.duplicates == [(3, 2)]
    assert (report.imported, [p["id"] for p in fresh_office.db.query("SELECT id FROM persons")]) == (1, ["L1"])
    strict = ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows), "jinan", NOW, strict=True)
    assert (strict.applied, strict.refused_rows, len(strict.refusals)) == (False, 8, 10)


def test_dates_in_the_forms_people_type():
    from datetime import date

    from kiosk.office.ledger_fields import CellError, day
    today = date(2026, 11, 29)
    typed = ["2026-12-10", "2026/12/10", "2026.12.10", "2026年12月10日", "12月10日", "2026-12-10 00:00:00",
             datetime(2026, 12, 10, 0, 0), 46366, "46366"]
    assert {day(value, today) for value in typed} == {date(2026, 12, 10)}
    assert day("1月5日", today) == date(2027, 1, 5)  # the nearest 5 January
    assert day("", today) is None
    for wrong in ("12/10/2026", "下周", "2026-13-01", "123"):
        with pytest.raises(CellError):
            day(wrong, today)


def test_a_file_without_a_header_row_is_refused_with_a_reason(fresh_office, tmp_path):
    path = write_csv(tmp_path / "台账.csv", [["金岸小区"], ["张三", "1", "1", "101"]])
    with pytest.raises(LedgerError) as refused:
        ledger.import_ledger(fresh_office, path, "jinan", NOW)
    assert refused.value.code == "no_header"
    assert counts(fresh_office) == (0, 0, 0, 0, 0, 0)


def test_identity_numbers_never_leave_the_office(fresh_office, tmp_path):
    """Not in the bundle, a pass or the gate's database; the office keeps a keyed hash and a mask only."""
    rows = jinan_ledger(12)
    ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", rows), "jinan", NOW)
    records = list(fresh_office.db.query("SELECT id_hash, id_masked FROM person_records"))
    secrets = [row[4] for row in rows[2:]] + [r["id_hash"] for r in records] + [r["id_masked"] for r in records]
    assert len(set(secrets)) == 36 and records[0]["id_masked"].count("*") == 8
    issued = [office_mod.issue_pass(fresh_office, subject_kind="resident", subject_id=person_id, site_id="jinan",
                                    now=NOW).token for (person_id,) in fresh_office.db.conn.execute("SELECT id FROM persons")]
    _, bundle = office_mod.write_bundle(fresh_office, "jinan", NOW, tmp_path / "r.bundle")
    gate_config = create_home(tmp_path / "gate", {"role": "gate", "site_id": "jinan", "gate_id": "g1"})
    with Gate(gate_config) as gate:
        registry.trust_key(gate.db, fresh_office.public_key(), NOW)
        assert registry.load_bundle_file(gate.db, bundle, "jinan", NOW).counts["persons"] == 12
    payload = gzip.decompress(base64.b64decode(json.loads(bundle.read_bytes())["payload"])).decode("utf-8")
    gate_files = "".join(path.read_bytes().decode("latin-1") for path in (tmp_path / "gate").rglob("*.db*"))
    for text in (payload, gate_files, *issued):
        assert [secret for secret in secrets if secret in text] == []
    office_files = "".join(path.read_bytes().decode("latin-1") for path in (tmp_path / "office").rglob("*.db*"))
    assert [number for number in secrets[:12] if number in office_files] == []  # the office: hash and mask only


def test_docs_name_every_header_and_wording_the_import_knows():
    from pathlib import Path

    from kiosk.office import ledger_fields, ledger_table, risk_areas
    text = (Path(__file__).resolve().parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")
    known = [*ledger_table.COLUMNS.values(), *ledger_fields.HEALTH_WORDINGS.values(), *risk_areas.COLUMNS.values(),
             *risk_areas.LEVEL_WORDINGS.values()]
    assert [word for words in known for word in words if word not in text] == []


def test_a_plate_on_two_households_and_a_person_who_moved(fresh_office, tmp_path):
    rows = [SMALL_HEADER, ["L1", "张三", "", "", "1", "1", "101", "陕A12345", "", "", "", ""],
            ["L2", "李四", "", "", "1", "1", "102", "陕a·12345", "", "", "", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "v1.csv", rows), "jinan", NOW)
    assert [(r.line, r.text("zh")) for r in report.refusals] == [(3, "车牌号 陕A12345 已在第 2 行登记给另一户")]
    moved = [SMALL_HEADER, ["L1", "张三", "", "", "2", "1", "101", "", "", "", "", ""]]
    report = ledger.import_ledger(fresh_office, write_csv(tmp_path / "v2.csv", moved), "jinan", NOW, remove_gone=True)
    assert ([(p.person_id, fields) for p, fields in report.changed], report.gone_plates) == (
        [("L1", ["building"])], ["陕A12345"])
    assert [h["id"] for h in fresh_office.db.query("SELECT id FROM households")] == ["jinan:2-1-101"]
