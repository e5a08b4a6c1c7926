"""Issue 11, the pass lifecycle from the command line (in-process): Chinese by default, English
with --lang en, --json for machines. The commands read the system clock, so the community is
created at the session's start."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.core import passes
from kiosk.store.db import open_db
from tests.conftest import SESSION_START

HOME = "jinan:1-1-101"


@pytest.fixture
def demo_time():
    return SESSION_START


def kiosk(home, *args: str, status: int = 0, lang: str = "zh"):
    result = CliRunner().invoke(cli, ["--lang", lang, "--home", str(home), *args], prog_name="kiosk")
    assert result.exit_code == status, (result.output, result.exception)
    return result


def pass_rows(community) -> list[dict]:
    db = open_db(community.office_home / "office.db", "office")
    try:
        return list(db.query("SELECT * FROM passes ORDER BY id"))
    finally:
        db.conn.close()


def test_issue_all_twice_never_doubles_and_names_the_refused(community, tmp_path):
    office = community.office_home
    first = kiosk(office, "office", "issue", "--site", "jinan", "--all", "--out", str(tmp_path / "p"))
    assert sorted(line.split("\t")[2] for line in first.stdout.splitlines()) == ["R006", "R008", "陕H6789A"]
    assert "居民 R001 已有有效通行证" in first.stderr
    assert first.stderr.splitlines()[-1] == "新发 3 张，已有有效证跳过 7 个，未能发证 0 个"
    again = kiosk(office, "office", "issue", "--site", "jinan", "--all", "--out", str(tmp_path / "p"), lang="en")
    assert again.stdout == "" and again.stderr.splitlines()[-1] == \
        "issued 0, skipped 10 holding a valid pass, refused 0"
    assert len(pass_rows(community)) == 8 + 3
    nobody = kiosk(office, "office", "issue", "--site", "jinan", "--person", "NOBODY-123", "--person", "R006",
                   "--out", str(tmp_path / "p"), status=1)
    assert nobody.stderr.splitlines()[-2:] == ["未发证：名册中没有居民 NOBODY-123，不能发证",
                                               "新发 0 张，已有有效证跳过 1 个，未能发证 1 个"]
    elsewhere = kiosk(office, "office", "issue", "--site", "longhai", "--all", "--out", str(tmp_path / "p"), status=1)
    assert elsewhere.output.strip() == "Error: [unknown_site] 本办公室不管理小区 longhai（管理的小区：jinan）"
    assert len(pass_rows(community)) == 8 + 3


def test_pass_list_show_unblock_and_reissue(community, tmp_path):
    office, pass_id = community.office_home, community.pass_ids["resident"]
    listed = json.loads(kiosk(office, "office", "pass", "list", "--household", HOME, "--json").stdout)
    assert sorted((row["subject_id"], row["state"]) for row in listed) == [
        ("R001", "active"), ("R002", "active"), ("陕H12345", "active")]
    by_plate = kiosk(office, "office", "pass", "list", "--plate", "陕h 12345").stdout.splitlines()
    assert by_plate[0] == "通行证\t类型\t对象\t姓名\t户\t有效期至\t状态" and by_plate[1].split("\t")[1:3] == \
        ["车辆", "陕H12345"]
    kiosk(office, "office", "revoke", pass_id, "--block", "--reason", "争议")
    shown = json.loads(kiosk(office, "office", "pass", "show", pass_id, "--json").stdout)
    assert (shown["name"], shown["status"], shown["reason"], shown["household_id"]) == ("张晓明", "blocked", "争议", HOME)
    assert "状态：已冻结 (争议)" in kiosk(office, "office", "pass", "show", pass_id).stdout
    assert kiosk(office, "office", "pass", "unblock", pass_id).stdout == f"通行证 {pass_id} 已解冻\n"
    again = kiosk(office, "office", "pass", "unblock", pass_id, status=1)
    assert f"通行证 {pass_id} 未被冻结（状态：active）" in again.output
    reissued = kiosk(office, "office", "pass", "reissue", "--site", "jinan", "--person", "R001",
                     "--out", str(tmp_path / "r"), lang="en").stdout
    new_id = reissued.split()[1]
    assert reissued == f"pass {new_id} issued to R001; the earlier pass is revoked\n"
    token = (tmp_path / "r" / "tokens.tsv").read_text(encoding="utf-8").split("\t")[3].strip()
    assert passes.parse(token)[2].pass_id == new_id
    states = {row["id"]: row["status"] for row in pass_rows(community) if row["subject_id"] == "R001"}
    assert states == {pass_id: "revoked", new_id: "active"}


def test_key_rotation_visitors_and_cards_from_the_command_line(community, tmp_path):
    office, gate = community.office_home, community.gate_home
    old_public = (office / "office-public-key.txt").read_text().strip()
    rotated = kiosk(office, "office", "key", "rotate", lang="en").stdout
    new_public = (office / "office-public-key.txt").read_text().strip()
    assert new_public != old_public and rotated.rstrip().endswith(new_public)
    assert rotated.startswith(f"new signing key {new_public.split(':')[1]}; the old key {old_public.split(':')[1]}")
    visitor = kiosk(office, "office", "visitor", "issue", "--site", "jinan", "--name", "王芳", "--household", HOME,
                    "--purpose", "探亲", "--hours", "4", "--out", str(tmp_path / "v")).stdout
    assert re.match(r"访客通行证 P[0-9A-F]{10}：王芳，拜访 jinan:1-1-101，有效至 \d{4}-\d\d-\d\d \d\d:\d\d$", visitor)
    kiosk(office, "office", "bundle", "--site", "jinan", "--out", str(tmp_path / "r.bundle"))
    kiosk(gate, "registry", "load", str(tmp_path / "r.bundle"))  # the gate trusted only the old key
    assert sorted(kiosk(gate, "keys", "list").stdout.split()) == sorted(
        [old_public.split(":")[1], new_public.split(":")[1]])
    assert kiosk(gate, "check", community.tokens["resident"], "--direction", "in", "--temp", "36.5",
                 lang="en").stdout.splitlines()[0] == "allow"
    cards = kiosk(office, "office", "cards", "--site", "jinan", "--household", HOME, "--name", "金岸小区",
                  "--out", str(tmp_path / "cards.pdf")).stdout
    assert cards == f"已写入 4 张通行证卡片，共 1 页：{tmp_path / 'cards.pdf'}\n"  # 2 residents, the car, the visitor
    assert (tmp_path / "cards.pdf").read_bytes().startswith(b"%PDF-")


def test_visitor_and_delivery_at_the_gate(community):
    gate = community.gate_home
    issued = kiosk(gate, "visitor", "issue", "--supervisor", "S001", "--pin", "999999", "--name", "王芳",
                   "--household", HOME, "--hours", "2").stdout
    pass_id = re.match(r"访客通行证 (V[0-9A-F]{10})：王芳，拜访 jinan:1-1-101，有效至 \d{4}-\d\d-\d\d \d\d:\d\d。", issued)[1]
    assert kiosk(gate, "check", pass_id, "--direction", "in", "--temp", "36.6", "--record",
                 lang="en").stdout.splitlines()[0] == "allow"
    refused = kiosk(gate, "visitor", "issue", "--supervisor", "G001", "--pin", "1234", "--name", "王芳",
                    "--household", HOME, status=1)
    assert refused.output.strip() == "Error: [supervisor_required] 只有值班主管可以在闸口签发访客通行证"
    logged = json.loads(kiosk(gate, "visitor", "delivery", "--company", "顺丰", "--household", HOME, "--temp", "38.1",
                              "--json", status=2).stdout)
    assert (logged["outcome"], logged["codes"]) == ("deny", ["fever"])
    fine = kiosk(gate, "visitor", "delivery", "--company", "顺丰", "--household", HOME, "--temp", "36.4").stdout
    assert fine.splitlines() == ["allow", f"快递/外卖登记：通行（记录 {logged['event_seq'] + 1}）"]
