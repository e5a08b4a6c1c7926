"""Registry upkeep from the command line (issue 11): persons, households, risk areas; --json; zh and en."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.gate.returnees import Returnee, register_returnee
from kiosk.office import ledger
from kiosk.office import service as office_mod
from kiosk.store import registry
from tests.conftest import NOW
from tests.office.ledgers import identity_number, write_csv, write_xlsx

HEADER = ["编号", "姓名", "身份证号", "联系电话", "楼栋", "单元", "房号", "车牌号", "健康状态", "隔离截止日期", "包联干部"]
ROWS = [["R1", "张三", identity_number(1), "13700000001", "1", "3", "301", "陕H·B6550", "居家隔离", "2026-12-10", "王主任"],
        ["R2", "李四", identity_number(2), "", "1", "3", "301", "", "", "", ""],
        ["R3", "王五", "", "13700000003", "2", "1", "101", "", "健康监测", "", "小李"]]


@pytest.fixture(autouse=True)
def no_language_from_the_environment(monkeypatch):
    monkeypatch.delenv("KIOSK_LANG", raising=False)


@pytest.fixture
def home(fresh_office, tmp_path):
    assert ledger.import_ledger(fresh_office, write_csv(tmp_path / "台账.csv", [HEADER, *ROWS]), "jinan", NOW).imported == 3
    return fresh_office.config.home


def kiosk(home, *args, lang=None, status=0):
    result = CliRunner().invoke(cli, [*(["--lang", lang] if lang else []), "--home", str(home), *args],
                                prog_name="kiosk")
    assert result.exit_code == status, result.output
    return result.output


def test_person_list_show_and_search(home):
    assert kiosk(home, "office", "person", "list").splitlines() == [
        "R1  张三  1-3-301  13700000001  居家隔离 至 2026-12-10  王主任  610102********0016",
        "R2  李四  1-3-301  -  正常  -  610102********0029",
        "R3  王五  2-1-101  13700000003  健康监测  小李  -"]
    assert kiosk(home, "office", "person", "list", "--status", "居家隔离", lang="en").splitlines() == [
        "R1  张三  1-3-301  13700000001  home isolation until 2026-12-10  王主任  610102********0016"]
    shown = json.loads(kiosk(home, "office", "person", "show", "R1", "--json"))
    assert (shown[0]["id_masked"], shown[0]["health_until_day"], "id_hash" in shown[0]) == (
        "610102********0016", "2026-12-10", False)
    found = {text: [p["person_id"] for p in json.loads(kiosk(home, "office", "person", "search", text, "--json"))]
             for text in ("李", "陕h b6550", identity_number(2), "1370000000", "R3", "nobody")}
    assert found == {"李": ["R2"], "陕h b6550": ["R1", "R2"], identity_number(2): ["R2"],
                     "1370000000": ["R1", "R3"], "R3": ["R3"], "nobody": []}
    assert kiosk(home, "office", "person", "show", "NOPE", status=1) == "Error: [unknown_person] 没有这个人 (no person NOPE)\n"


def test_set_status_with_deadline_and_cadre(home, fresh_office):
    out = kiosk(home, "office", "person", "set-status", "R2", "居家隔离", "--until", "2026-12-14", "--cadre", "王主任",
                "--cadre-phone", "139 0000 0000")
    assert out == "R2  李四  1-3-301  -  居家隔离 至 2026-12-14  王主任 13900000000  610102********0029\n"
    health = fresh_office.db["health"].get("R2")
    assert (health["status"], health["until"], health["cadre_name"], health["cadre_phone"]) == (
        "home_isolation", "2026-12-14T16:00:00.000Z", "王主任", "13900000000")
    back = json.loads(kiosk(home, "office", "person", "set-status", "R2", "normal", "--json"))[0]
    assert (back["health"], back["health_until"], back["cadre_name"]) == ("normal", None, "王主任")
    refused = kiosk(home, "office", "person", "set-status", "R2", "发烧", lang="en", status=2)
    assert "health status '发烧' not understood" in refused


def test_person_add_and_remove_revokes_passes(home, fresh_office):
    added = json.loads(kiosk(home, "office", "person", "add", "--site", "jinan", "--name", "赵　六", "--building",
                             "２号楼", "--unit", "1单元", "--room", "101室", "--id-number", identity_number(6), "--json"))
    assert (added[0]["name"], added[0]["household_id"], added[0]["person_id"][0]) == ("赵六", "jinan:2-1-101", "R")
    again = kiosk(home, "office", "person", "add", "--site", "jinan", "--name", "赵六", "--building", "2",
                  "--unit", "1", "--room", "101", "--id-number", identity_number(6), status=1)
    assert again.startswith("Error: [exists]")
    bad = kiosk(home, "office", "person", "add", "--site", "jinan", "--name", "钱七", "--building", "2",
                "--unit", "1", "--room", "102", "--id", "../x", "--phone", "无", status=1)
    assert bad == "Error: 编号「../x」只能包含字母、数字、- 和 _（最多 32 个）；电话「无」不是电话号码\n"
    issued = office_mod.issue_pass(fresh_office, subject_kind="resident", subject_id="R3", site_id="jinan", now=NOW)
    assert kiosk(home, "office", "person", "remove", "R3") == "已删除 R3，注销通行证 1 张\n"
    assert fresh_office.db["passes"].get(issued.pass_id)["status"] == "revoked"
    assert [h["id"] for h in json.loads(kiosk(home, "office", "household", "list", "--json"))] == [
        "jinan:1-3-301", "jinan:2-1-101"]  # 2-1-101 now holds 赵六; R3's flat had nobody else


def test_households_list_show_search(home):
    assert kiosk(home, "office", "household", "list", "--site", "jinan").splitlines() == [
        "jinan:1-3-301  2 人  1 辆车", "jinan:2-1-101  1 人  0 辆车"]
    shown = json.loads(kiosk(home, "office", "household", "show", "jinan:1-3-301", "--json"))
    assert ([m["person_id"] for m in shown["members"]], shown["plates"]) == (["R1", "R2"], ["陕HB6550"])
    assert kiosk(home, "office", "household", "show", "jinan:1-3-301", lang="en").splitlines() == [
        "jinan:1-3-301  2 person(s)  1 vehicle(s)",
        "  R1  张三  1-3-301  13700000001  home isolation until 2026-12-10  王主任  610102********0016",
        "  R2  李四  1-3-301  -  normal  -  610102********0029",
        "  vehicle 陕HB6550"]
    assert [h["id"] for h in json.loads(kiosk(home, "office", "household", "search", "王五", "--json"))] == [
        "jinan:2-1-101"]


AREAS = [["2026年12月1日 中高风险地区名单"], ["地区", "风险等级", "公布日期", "备注"],
         ["西安市雁塔区", "高风险", "2026-12-01", ""], ["西安市碑林区", "中", "12月1日", "新增"],
         ["咸阳市秦都区", "低风险地区", "2026/11/28", ""]]


@pytest.mark.parametrize("writer", [write_csv, write_xlsx])
def test_risk_areas_from_a_list_then_set_and_clear(home, tmp_path, writer):
    table = writer(tmp_path / f"areas.{'csv' if writer is write_csv else 'xlsx'}", AREAS)
    assert kiosk(home, "office", "risk-area", "import", str(table)).splitlines() == [
        "未使用的列 D：备注",
        "西安市雁塔区  西安市雁塔区  高风险  2026-12-01", "西安市碑林区  西安市碑林区  中风险  2026-12-01",
        "咸阳市秦都区  咸阳市秦都区  低风险  2026-11-28", "风险地区名单已更新：3 个地区"]
    assert kiosk(home, "office", "risk-area", "set", "610113", "高", "--name", "西安市雁塔区", "--date", "2026-12-02",
                 "--json") == json.dumps([{"code": "610113", "name": "西安市雁塔区", "level": "high",
                                           "listed_on": "2026-12-02"}], ensure_ascii=False, indent=1) + "\n"
    listed = json.loads(kiosk(home, "office", "risk-area", "list", "--json"))
    assert sorted((a["code"], a["level"]) for a in listed) == [
        ("610113", "high"), ("咸阳市秦都区", "low"), ("西安市碑林区", "medium"), ("西安市雁塔区", "high")]
    assert kiosk(home, "office", "risk-area", "clear", "咸阳市秦都区", lang="en") == "1 risk area(s) removed\n"
    assert kiosk(home, "office", "risk-area", "clear", "--all", "--json") == '{\n "removed": 3\n}\n'
    assert kiosk(home, "office", "risk-area", "list") == ""


def test_a_risk_area_list_with_a_bad_row_changes_nothing(home, tmp_path):
    kiosk(home, "office", "risk-area", "set", "610113", "high")
    table = write_csv(tmp_path / "areas.csv", [*AREAS[1:3], ["西安市新城区", "很高", "2026-12-01", ""]])
    out = kiosk(home, "office", "risk-area", "import", str(table), lang="en", status=1)
    assert f"{table}:3: risk level '很高' not understood (低, 中, 高 / low, medium, high)" in out.splitlines()
    assert [a["code"] for a in json.loads(kiosk(home, "office", "risk-area", "list", "--json"))] == ["610113"]


def test_imported_risk_areas_reach_returnee_registration_at_the_gate(community, office, gate, tmp_path, clock):
    office.db.conn.execute("DELETE FROM risk_areas")  # a fresh office has no list
    table = write_csv(tmp_path / "areas.csv", AREAS)
    assert kiosk(community.office_home, "office", "risk-area", "import", str(table)).endswith("3 个地区\n")
    _, bundle = office_mod.write_bundle(office, "jinan", clock.now(), tmp_path / "r.bundle")
    registry.load_bundle_file(gate.db, bundle, "jinan", clock.now())
    assert list(gate.db.query("SELECT * FROM risk_areas WHERE level = 'medium'")) == [
        {"code": "西安市碑林区", "name": "西安市碑林区", "level": "medium"}]  # the list's date stays at the office
    event = register_returnee(gate, Returnee("刘七", "13700000009", "123X", "西安市碑林区", "2026-11-28", "1-1-101"),
                              "in", "G001", clock.now())
    assert (event["outcome"], event["codes"]) == ("refer", '["returnee_high_risk"]')


def test_import_command_reports_in_chinese_and_english(home, tmp_path):
    newer = [["金岸小区居民台账"], [*HEADER, "序号"], [*ROWS[0], "1"],
             ["R4", "赵六", "", "1370000000X", "3", "1", "101", "", "", "", "", "2"], [*ROWS[0], "1"]]
    path = write_csv(tmp_path / "v2.csv", newer, "gbk")
    result = CliRunner().invoke(cli, ["--home", str(home), "office", "import", str(path), "--site", "jinan",
                                      "--dry-run"], prog_name="kiosk")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{path}:4: 电话「1370000000X」不是电话号码",
                                          f"{path}:5: 与第 3 行完全相同，已跳过"]
    assert result.stdout.splitlines() == [
        "表头在第 2 行", "未使用的列 L：序号",
        "- R2  李四  1-3-301  -  正常  -  610102********0029",
        "- R3  王五  2-1-101  13700000003  健康监测  小李  -",
        "新增 0 人，变更 0 人，未变 1 人，台账中已没有 2 人；拒绝 1 行，重复 1 行", "试运行：未写入任何内容"]
    english = json.loads(kiosk(home, "office", "import", str(path), "--site", "jinan", "--json", lang="en", status=1))
    assert (english["refused"], english["applied"], [p["person_id"] for p in english["gone"]]) == (
        [{"line": 4, "code": "bad_phone", "reason": "phone '1370000000X' is not a phone number"}], True, ["R2", "R3"])
    title_only = write_csv(tmp_path / "title.csv", [["金岸小区居民台账"], ["张三", "1", "3", "301"]])
    assert kiosk(home, "office", "import", str(title_only), "--site", "jinan", lang="en", status=1).startswith(
        "Error: [no_header] no header row found (name, building, unit, room...)")
