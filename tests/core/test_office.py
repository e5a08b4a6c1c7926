"""The office: ledger import (CSV, XLSX, Chinese headers), passes, QR images, bundles."""

from __future__ import annotations

from datetime import timedelta

import cv2
import openpyxl
import pytest
import zxingcpp
from pyzbar import pyzbar

from kiosk.core import passes
from kiosk.office import ledger as ledger_mod
from kiosk.office import service as office_mod
from kiosk.store import registry
from tests.conftest import NOW

# Gates look for QR codes only; unrestricted, the libraries now and then also "find" a linear
# barcode in a QR code's modules (e.g. '5536'), which is no pass.
QR_ONLY = zxingcpp.BarcodeFormat.QRCode

HEADER = ["编号", "姓名", "手机", "楼号", "单元", "房号", "车牌号", "健康状态", "截止日期", "负责干部", "干部电话"]
GOOD = [
    ["L001", "马文", "13700000001", "9", "1", "901", "陕H 55555", "", "", "", ""],
    ["L002", "马丽", "", "9", "1", "901", "", "健康监测", "2026-12-10", "孙干部", "13900000000"],
    ["L003", "牛犇", "", "9", "2", "902", "", "居家隔离", "", "赵干部", ""],
]
BAD = {  # line number -> (row, reason)
    5: (["L004", "", "", "9", "1", "903", "", "", "", "", ""], "缺少姓名"),
    7: (["L005", "冯", "", "9", "", "", "", "", "", "", ""], "缺少单元、房号"),
    8: (["L006", "杨", "", "9", "1", "904", "", "发烧", "", "", ""],
        "健康状态「发烧」无法识别（正常、健康监测、居家隔离、集中隔离）"),
    9: (["L007", "秦", "", "9", "1", "905", "", "居家隔离", "12/10/2026", "", ""],
        "日期「12/10/2026」无法识别（如 2026-12-10、2026/12/10、12月10日）"),
    10: (["L001", "马文", "", "9", "1", "901", "", "", "", "", ""], "编号 L001 与第 2 行重复"),
}


def ledger_rows() -> list[list[str]]:
    """Header, three good rows, then bad rows with a blank line 6 (blank lines keep their number)."""
    return [HEADER, *GOOD, BAD[5][0], [""] * len(HEADER), *(BAD[n][0] for n in (7, 8, 9, 10))]


def write_csv(path, rows):
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8-sig")
    return path


def write_xlsx(path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append([int(v) if v.isdigit() and len(v) < 5 else (v or None) for v in row])
    book.save(path)
    return path


def people(office) -> list[dict]:
    return list(office.db.query("SELECT * FROM persons ORDER BY id"))


@pytest.mark.parametrize("writer, name", [(write_csv, "台账.csv"), (write_xlsx, "台账.xlsx")])
def test_ledger_import_reports_every_bad_row_with_its_line(office, tmp_path, writer, name):
    report = ledger_mod.import_ledger(office, writer(tmp_path / name, ledger_rows()), "jinan", NOW)
    assert report.errors == [(line, problem) for line, (_, problem) in sorted(BAD.items())]
    assert report.imported == 3
    assert office.db["persons"].get("L002")["household_id"] == "jinan:9-1-901"
    assert office.db["persons"].get("L001")["phone"] == "13700000001"
    assert office.db["vehicles"].get("陕H55555")["household_id"] == "jinan:9-1-901"
    health = office.db["health"].get("L002")
    assert (health["status"], health["until"], health["cadre_name"]) == (
        "health_monitoring", "2026-12-10T16:00:00.000Z", "孙干部")  # the deadline day is included
    assert office.db["health"].get("L003")["status"] == "home_isolation"


@pytest.mark.parametrize("writer, name", [(write_csv, "ledger.csv"), (write_xlsx, "ledger.xlsx")])
def test_strict_import_with_a_bad_row_imports_nothing(office, tmp_path, writer, name):
    before = {t: list(office.db.query(f"SELECT * FROM {t} ORDER BY 1")) for t in registry.REGISTRY_TABLES}
    report = ledger_mod.import_ledger(office, writer(tmp_path / name, ledger_rows()), "jinan", NOW, strict=True)
    assert (report.imported, len(report.errors)) == (0, 5)
    assert {t: list(office.db.query(f"SELECT * FROM {t} ORDER BY 1")) for t in registry.REGISTRY_TABLES} == before


def test_strict_import_of_a_clean_ledger_imports_all(office, tmp_path):
    report = ledger_mod.import_ledger(office, write_csv(tmp_path / "ok.csv", [HEADER, *GOOD]), "jinan", NOW, strict=True)
    assert (report.imported, report.errors) == (3, [])
    assert [p["id"] for p in people(office)][:3] == ["L001", "L002", "L003"]


def test_english_headers_and_reimport_updates_in_place(office, tmp_path):
    rows = [["id", "name", "building", "unit", "room"], ["R001", "张晓明（改）", "1", "1", "101"]]
    assert ledger_mod.import_ledger(office, write_csv(tmp_path / "en.csv", rows), "jinan", NOW).imported == 1
    assert office.db["persons"].get("R001")["name"] == "张晓明(改)"  # NFKC: full-width brackets too
    assert office.db["persons"].count == 8


def test_empty_ledger_imports_nothing(office, tmp_path):
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    report = ledger_mod.import_ledger(office, tmp_path / "empty.csv", "jinan", NOW, strict=True)
    assert (report.imported, report.errors) == (0, [])


@pytest.mark.parametrize("kind, subject", [("resident", "R001"), ("vehicle", "陕H12345")])
def test_issued_pass_qr_png_decodes_back_to_the_token(office, tmp_path, kind, subject):
    issued = office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id="jinan", now=NOW, days=7)
    path = office_mod.write_qr(issued.token, tmp_path / "pass.png")
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert [r.text for r in zxingcpp.read_barcodes(image, formats=QR_ONLY)] == [issued.token]
    assert [r.data.decode("ascii") for r in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])] == [issued.token]
    row = office.db["passes"].get(issued.pass_id)
    assert (row["subject_kind"], row["subject_id"], row["status"], row["valid_from"], row["valid_until"]) == (
        kind, subject, "active", "2026-11-29T02:00:00.000Z", "2026-12-06T02:00:00.000Z")
    claims = passes.parse(issued.token)[2]
    assert (claims.pass_id, claims.subject_id, claims.valid_until) == (issued.pass_id, subject, NOW + timedelta(days=7))


def test_qr_svg_and_bad_format(office, tmp_path, community):
    svg = office_mod.write_qr(community.tokens["resident"], tmp_path / "pass.svg", "svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="png or svg"):
        office_mod.write_qr(community.tokens["resident"], tmp_path / "pass.gif", "gif")


def test_demo_pass_images_decode(community):
    for role, token in community.tokens.items():
        image = cv2.imread(str(community.root / "passes" / f"{role}.png"), cv2.IMREAD_GRAYSCALE)
        assert [r.text for r in zxingcpp.read_barcodes(image, formats=QR_ONLY)] == [token]


def test_pass_status_changes(office, community):
    office_mod.set_pass_status(office, community.pass_ids["resident"], "blocked", "dispute")
    row = office.db["passes"].get(community.pass_ids["resident"])
    assert (row["status"], row["reason"]) == ("blocked", "dispute")
    with pytest.raises(office_mod.OfficeError, match="no pass PNOSUCH") as refused:
        office_mod.set_pass_status(office, "PNOSUCH", "revoked")
    assert refused.value.code == "unknown_pass"
    with pytest.raises(ValueError):
        office_mod.set_pass_status(office, community.pass_ids["resident"], "lost")


def test_subjects_of_a_site(office):
    found = office_mod.subjects(office, "jinan", ("resident", "vehicle"))
    assert found[:2] == [("resident", "R001"), ("resident", "R002")]
    assert found[-2:] == [("vehicle", "陕H12345"), ("vehicle", "陕H6789A")] and len(found) == 10
    assert office_mod.subjects(office, "longhai", ("resident", "vehicle")) == []


def test_bundle_versions_increase(office, tmp_path):
    assert office_mod.write_bundle(office, "jinan", NOW, tmp_path / "a.bundle")[0] == 2
    assert office_mod.write_bundle(office, "jinan", NOW, tmp_path / "b.bundle")[0] == 3


def test_second_signing_key_is_refused(office):
    from kiosk.core.signing import KeyError_

    with pytest.raises(KeyError_, match="refusing to overwrite"):
        office_mod.init_keys(office)
