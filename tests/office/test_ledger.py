"""Ledger import of ledgers as communities keep them (issue 11): exact counts and reported lines."""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.core.i18n import t
from kiosk.office import ledger, ledger_report
from kiosk.office import service as office_mod
from kiosk.office.ledger_table import LedgerError
from kiosk.store import registry
from tests.conftest import NOW, SHANGHAI
from tests.office.ledgers import HEADER_16, identity_number, jinan_ledger, write_csv, write_xlsx

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
