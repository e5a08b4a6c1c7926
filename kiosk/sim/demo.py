"""A demo community: an office and a gate with a small registry, guards and passes.

Used by ``make demo`` / ``kiosk demo``, the simulated scenario, tests and benchmarks.
Everything goes through the same functions a real office and gate use.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk.gate import usb_export
from kiosk.gate.service import Gate
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.store import guards, registry, tls, web_users
from kiosk.store.config import create_home, write_private

SITE = "jinan"
GATE_ID = "jinan-gate"
GUARD = ("G001", "王建国", "1234")
SUPERVISOR = ("S001", "李秀英", "999999")
OFFICE_LOGIN = ("office", "demo-office-2026")  # the office pages' demo login
# id, name, phone, building, unit, room, plate, health, cadre
RESIDENTS = [
    ("R001", "张晓明", "13800000001", "1", "1", "101", "陕H12345", "", ""),
    ("R002", "张丽", "13800000002", "1", "1", "101", "", "", ""),
    ("R003", "刘洋", "13800000003", "2", "1", "302", "", "居家隔离", "赵干部"),
    ("R004", "陈静", "13800000004", "2", "2", "201", "", "集中隔离", "赵干部"),
    ("R005", "杨帆", "13800000005", "3", "1", "502", "", "健康监测", "孙干部"),
    ("R006", "黄磊", "13800000006", "3", "2", "601", "陕H6789A", "", ""),
    ("R007", "周敏", "13800000007", "4", "1", "102", "", "", ""),
    ("R008", "吴刚", "13800000008", "4", "1", "103", "", "", ""),
]
# The office's risk-area list (returnee registration chooses from it): code, name, level.
RISK_AREAS = [("610113", "西安市雁塔区", "high"), ("610112", "西安市未央区", "medium"),
              ("610102", "西安市新城区", "low")]
ROLES = {"resident": "R001", "household_member": "R002", "isolated": "R003", "quarantined": "R004",
         "monitored": "R005", "second_resident": "R007", "revoked": "R008"}


@dataclass
class DemoCommunity:
    root: Path
    office_home: Path
    gate_home: Path
    tokens: dict[str, str]  # role -> pass token
    pass_ids: dict[str, str]


def write_ledger(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "姓名", "电话", "楼栋", "单元", "房号", "车牌", "健康状态", "负责干部", "干部电话"])
        for row in RESIDENTS:
            writer.writerow([*row, "13900000000" if row[8] else ""])
    return path


def create_demo(root: Path, now: datetime, gate_settings: dict | None = None) -> DemoCommunity:
    """Create (or reuse) the demo folders under ``root`` and return the passes."""
    root = Path(root)
    info_file = root / "demo.json"
    if info_file.exists():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        return DemoCommunity(root, root / "office", root / "gate", info["tokens"], info["pass_ids"])
    office_cfg = create_home(root / "office", {"role": "office", "site_id": SITE,
                                              "registry_settings": {"rules": {"severity": {"household_quota": "deny"}}}})
    gate_cfg = create_home(root / "gate", {"role": "gate", "site_id": SITE, "gate_id": GATE_ID,
                                          **(gate_settings or {})})
    with Office(office_cfg) as office:
        public = office_mod.init_keys(office)
        ledger_mod.import_ledger(office, write_ledger(root / "ledger.csv"), SITE, now, strict=True)
        tokens, pass_ids = _issue_demo_passes(office, root / "passes", now)
        office.db["risk_areas"].insert_all(
            [{"code": code, "name": name, "level": level} for code, name, level in RISK_AREAS])
        _, bundle = office_mod.write_bundle(office, SITE, now, root / "registry.bundle")
    with Gate(gate_cfg) as gate:
        registry.trust_key(gate.db, public, now)
        registry.load_bundle_file(gate.db, bundle, SITE, now)
        guards.add_guard(gate.db, GUARD[0], GUARD[1], GUARD[2], "南秦社区", "guard")
        guards.add_guard(gate.db, SUPERVISOR[0], SUPERVISOR[1], SUPERVISOR[2], "南秦社区", "supervisor")
        web_users.add_user(gate.db, OFFICE_LOGIN[0], "office", OFFICE_LOGIN[1])
        usb_export.export_key(gate)  # as `kiosk init` does
    tls.ensure_certificate(gate_cfg)  # as `kiosk init` does
    write_private(info_file, json.dumps({"tokens": tokens, "pass_ids": pass_ids}, ensure_ascii=False, indent=1))
    return DemoCommunity(root, root / "office", root / "gate", tokens, pass_ids)


def _issue_demo_passes(office: Office, out: Path, now: datetime) -> tuple[dict, dict]:
    out.mkdir(parents=True, exist_ok=True)
    tokens, pass_ids = {}, {}
    subjects = [(role, "resident", person) for role, person in ROLES.items()] + [("vehicle", "vehicle", "陕H12345")]
    for role, kind, subject in subjects:
        issued = office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id=SITE, now=now)
        office_mod.write_qr(issued.token, out / f"{role}.png")
        tokens[role], pass_ids[role] = issued.token, issued.pass_id
    office_mod.set_pass_status(office, pass_ids["revoked"], "revoked", "lost")
    return tokens, pass_ids
