"""A scripted day at two gates of two compounds, pulled by one office over real HTTP (issue 12).

One office (compounds jinan 锦楠花园 and longhai 龙海家园, each its own community, one street), a gate per compound, three shifts at each, fevers (one
re-measured and let through by a supervisor), isolated persons (one let out to hospital),
a returnee from a high-risk area, vehicles with their drivers, a typed pass number, a guard
signing on a second time, a guard on duty through a whole shift he signed on before. Every figure the office tests assert is worked out in EXPECTED.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.core.clock import FixedClock
from kiosk.core.rules import Scan
from kiosk.gate.returnees import Returnee, register_returnee
from kiosk.gate.service import Gate
from kiosk.office import ledger as ledger_mod
from kiosk.office import pull
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.sim.demo import RESIDENTS, RISK_AREAS
from kiosk.store import guards, registry, tokens, web_users
from kiosk.store.config import create_home
from tests.servers import KioskServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-29"
ISSUED = datetime(2026, 11, 28, 12, 0, tzinfo=SHANGHAI)
OFFICE_USER, VIEWER_USER, PASSWORD = "office", "viewer", "office-day-2026"
LONGHAI = [  # id, name, phone, building, unit, room, plate, health, cadre
    ("L001", "钱多多", "13700000001", "1", "1", "101", "陕A11111", "", ""),
    ("L002", "孙丽", "13700000002", "1", "1", "102", "", "", ""),
    ("L003", "郑强", "13700000003", "2", "1", "201", "", "居家隔离", "冯干部"),
    ("L004", "王芳", "13700000004", "2", "2", "202", "", "健康监测", "冯干部"),
]
# Two communities of one compound each under one street (issue 16): a community's figures are its
# compound's, the street's both added up.
LEVELS = {"site_names": {"jinan": "锦楠花园", "longhai": "龙海家园"}, "district": "小寨路街道",
          "communities": [{"id": "jinnan", "name": "锦南社区", "sites": ["jinan"]},
                          {"id": "haitang", "name": "海棠社区", "sites": ["longhai"]}]}
GUARDS = {"jinan": [("G001", "王建国", "1234", "guard"), ("G002", "赵卫东", "2345", "guard"),
                    ("S001", "李秀英", "999999", "supervisor")],
          "longhai": [("G101", "孙振华", "3456", "guard"), ("G102", "周海", "4567", "guard"),
                      ("S101", "马红梅", "888888", "supervisor")]}


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 29, hour, minute, tzinfo=SHANGHAI)


@dataclass
class OfficeDay:
    office_home: Path
    gate_homes: dict[str, Path]  # site -> gate folder


def _ledger(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "姓名", "电话", "楼栋", "单元", "房号", "车牌", "健康状态", "负责干部", "干部电话"])
        writer.writerows([*row, "13900000000" if row[8] else ""] for row in rows)
    return path


def build(root: Path, database: str | None = None) -> OfficeDay:
    """The office (its store: ``database``, a PostgreSQL URL, or office.db) and both gates, with
    registries, guards and passes (nothing happened yet)."""
    office_cfg = create_home(root / "office", {"role": "office", "site_id": "jinan", "sites": ["jinan", "longhai"],
                                               **LEVELS, **({"database": database} if database else {})})
    homes = {}
    with Office(office_cfg) as office:
        public = office_mod.init_keys(office)
        web_users.add_user(office.store, OFFICE_USER, "office", PASSWORD, "office")
        web_users.add_user(office.store, VIEWER_USER, "viewer", PASSWORD, "office")
        office.db["risk_areas"].insert_all([{"code": c, "name": n, "level": lv} for c, n, lv in RISK_AREAS])
        for site, rows in (("jinan", RESIDENTS), ("longhai", LONGHAI)):
            ledger_mod.import_ledger(office, _ledger(root / f"{site}.csv", rows), site, ISSUED, strict=True)
            for kind, subject in office_mod.subjects(office, site, ("resident", "vehicle")):
                office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id=site, now=ISSUED)
            _, bundle = office_mod.write_bundle(office, site, ISSUED, root / f"{site}.bundle")
            gate_cfg = create_home(root / f"{site}-gate", {"role": "gate", "site_id": site, "gate_id": f"{site}-gate"})
            with Gate(gate_cfg) as gate:
                registry.trust_key(gate.db, public, ISSUED)
                registry.load_bundle_file(gate.db, bundle, site, ISSUED)
                for guard_id, name, pin, role in GUARDS[site]:
                    guards.add_guard(gate.db, guard_id, name, pin, "社区", role)
            homes[site] = gate_cfg.home
        revoked = office.db.execute("SELECT id FROM passes WHERE subject_id = 'R008'").fetchone()[0]
        office_mod.set_pass_status(office, revoked, "revoked", "遗失")
    _republish_revocation(root, homes["jinan"], office_cfg.home)
    return OfficeDay(office_cfg.home, homes)


def _republish_revocation(root: Path, gate_home: Path, office_home: Path) -> None:
    with Office.open(office_home) as office:
        _, bundle = office_mod.write_bundle(office, "jinan", ISSUED, root / "jinan-2.bundle")
    with Gate.open(gate_home) as gate:
        registry.load_bundle_file(gate.db, bundle, "jinan", ISSUED)


def pass_of(gate: Gate, subject: str) -> str:
    return gate.db.execute("SELECT id FROM passes WHERE subject_id = ?", [subject]).fetchone()[0]


def _token(office_home: Path, subject: str) -> str:
    """A freshly signed pass token for ``subject``'s recorded pass (what the printed QR holds)."""
    from kiosk.core import passes

    with Office.open(office_home) as office:
        row = dict(next(office.db.query("SELECT * FROM passes WHERE subject_id = ?", [subject])))
        return passes.mint(office.signing_key(), pass_id=row["id"], subject_kind=row["subject_kind"],
                           subject_id=row["subject_id"], site_id=row["site_id"], valid_from=ISSUED,
                           valid_until=ISSUED + timedelta(days=30))


def play_jinan(day: OfficeDay) -> None:
    token = lambda who: _token(day.office_home, who)  # noqa: E731
    with Gate.open(day.gate_homes["jinan"], clock=FixedClock(at(0))) as gate:
        gate.sign_on("G002", "2345", "in", at(0, 5))
        gate.check(Scan("out", token=token("R007"), lane="out"), at(6, 30))
        gate.sign_off("G002", "2345", at(7, 55), "夜班无异常")
        gate.sign_on("G001", "1234", "in", at(8, 0))
        gate.check(Scan("out", token=token("R001"), lane="out"), at(8, 10))
        gate.check(Scan("in", token=token("R002"), lane="in", temperature=38.2), at(9, 0))
        again = gate.check(Scan("in", token=token("R002"), lane="in", temperature=36.8), at(9, 5))
        gate.override(again.event["id"], "G001", "复测正常", at(9, 6), "S001", "999999")
        gate.check(Scan("out", token=token("R003"), lane="out"), at(10, 0))
        gate.check_vehicle(Scan("in", token=token("陕H12345"), lane="in"),
                           Scan("in", token=token("R001"), lane="in", temperature=36.5), at(11, 0))
        gate.sign_off("G001", "1234", at(11, 30), "午饭")
        gate.sign_on("G001", "1234", "out", at(12, 15))
        register_returnee(gate, Returnee("王五", "13600000000", "123X", "610113", DAY, "4-1-102"), "in", "G001",
                          at(14, 0))
        gate.sign_off("G001", "1234", at(15, 58), "2号楼外卖已登记")
        gate.sign_on("S001", "999999", "in", at(16, 0))
        gate.check(Scan("in", token=token("R005"), lane="in", temperature=36.4), at(17, 0))
        gate.check(Scan("in", token=token("R008"), lane="in", temperature=36.5), at(18, 0))
        gate.check(Scan("in", pass_id=pass_of(gate, "R006"), source="manual", lane="in", temperature=36.6),
                   at(20, 0))
        gate.sign_off("S001", "999999", at(23, 50))


def play_longhai(day: OfficeDay) -> None:
    token = lambda who: _token(day.office_home, who)  # noqa: E731
    with Gate.open(day.gate_homes["longhai"], clock=FixedClock(at(0))) as gate:
        gate.sign_on("G102", "4567", "in", at(7, 0))
        gate.check(Scan("out", token=token("L001"), lane="out"), at(7, 30))
        gate.sign_off("G102", "4567", at(7, 59), "交接正常")
        gate.sign_on("G101", "3456", "in", at(7, 50))  # before the morning shift, and on through all of it
        gate.check(Scan("in", token=token("L002"), lane="in", temperature=37.6), at(8, 30))
        gate.check_vehicle(Scan("out", token=token("陕A11111"), lane="out"),
                           Scan("out", token=token("L004"), lane="out"), at(9, 0))
        refused = gate.check(Scan("out", token=token("L003"), lane="out"), at(10, 30))
        gate.override(refused.event["id"], "G101", "就医", at(10, 31), "S101", "888888")
        gate.check(Scan("in", pass_id=pass_of(gate, "L001"), source="manual", lane="in", temperature=36.5),
                   at(12, 0))
        gate.sign_on("S101", "888888", "in", at(16, 0))
        gate.sign_off("G101", "3456", at(16, 10), "无")
        gate.check(Scan("in", token=token("L002"), lane="in", temperature=36.6), at(19, 0))
        gate.sign_off("S101", "888888", at(23, 0))


def pull_over_http(day: OfficeDay, logs: Path) -> None:
    """Both gates served by real `kiosk serve` processes; the office pulls each once."""
    servers = {site: KioskServer(home, logs / f"{site}-serve.log") for site, home in day.gate_homes.items()}
    try:
        for site, server in servers.items():
            server.start()
            with Gate.open(day.gate_homes[site]) as gate:
                secret = tokens.create_token(gate.db, "office", "社区办公室", ISSUED)[1]
            with Office.open(day.office_home) as office:
                pull.add_gate(office, f"{site}-gate", server.url, secret)
        with Office.open(day.office_home) as office:
            for site in servers:
                result = pull.pull_gate(office, f"{site}-gate", lambda: at(23, 59))
                if not result.ok:
                    raise AssertionError(f"pull of {site}-gate failed: {result.problem}")
    finally:
        for server in servers.values():
            server.stop()


def scripted_day(root: Path, database: str | None = None) -> OfficeDay:
    day = build(root, database)
    play_jinan(day)
    play_longhai(day)
    pull_over_http(day, root)
    return day
