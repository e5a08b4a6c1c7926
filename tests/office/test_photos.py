"""Issue 17, part 1: holder photos imported at the office, carried to the gates in the signed bundle,
deleted with the person or when a site turns photos off, refused when damaged, foreign or a bomb."""

from __future__ import annotations

import hashlib
import io
import json
import tomllib

import openpyxl
import pytest
import tomli_w
from click.testing import CliRunner
from openpyxl.drawing.image import Image as SheetImage
from PIL import Image

from kiosk.cli.root import cli
from kiosk.core.errors import KioskError
from kiosk.office import identity, photos, residents
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.sim.demo import SITE
from kiosk.store import registry
from kiosk.store.config import write_private
from kiosk.store.db import transaction
from kiosk.store.photos import photo_digest, photo_for
from tests.conftest import NOW
from tests.office.ledgers import identity_number
from tests.office.portraits import declared_png, gif, portrait
from web import MAX_BODY_BYTES

NUMBER = identity_number(3)  # R003's identity number: the office keeps only its keyed hash


def give_identity(office: Office, person_id: str, number: str) -> None:
    key = identity.identity_key(office.config.keys_dir)
    office.db["person_records"].upsert({"person_id": person_id, "id_hash": identity.number_hash(key, number),
                                        "id_masked": identity.mask(number)}, pk="person_id")


def exif_with(maker: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = maker  # Make: a phone writes its maker, the time and often the place
    return exif.tobytes()


@pytest.fixture
def folder(office, photo_folder):
    give_identity(office, "R003", NUMBER)
    return photo_folder


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """A folder as an office collects it: good photos by id and by identity number, and bad files."""
    folder = tmp_path_factory.mktemp("photos") / "照片"
    folder.mkdir()
    files = {
        "R001.jpg": portrait(1, exif=exif_with("PhoneMaker")),
        "R001.png": portrait(11, fmt="PNG"),  # a second photo of R001
        "R002.png": portrait(2, fmt="PNG", transparent=True),
        f"{NUMBER}.jpg": portrait(3, (1200, 1600)),
        "R004.jpg": portrait(4)[:5000],  # cut off while copying
        "R005.png": declared_png(30_000, 30_000),  # 900 megapixels from a 50-byte file
        "R006.gif": gif(),
        "R999.jpg": portrait(9),  # nobody of that id
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with open(folder / "R007.jpg", "wb") as sparse:  # 30 MB: refused by its size, never read
        sparse.truncate(30_000_000)
    return folder


def test_a_folder_import_keeps_good_photos_and_refuses_each_bad_file_with_its_reason(office, folder):
    result = photos.import_photos(office.db, office.config.keys_dir, folder, NOW)
    assert result.imported == ["R003", "R001", "R002"]  # by file name: the identity number sorts first
    assert [(r.source, r.code) for r in result.refused] == [
        ("R001.png", "photo_duplicate"), ("R004.jpg", "photo_corrupt"), ("R005.png", "photo_huge"),
        ("R006.gif", "photo_format"), ("R007.jpg", "photo_huge"), ("R999.jpg", "photo_unknown_person"),
    ]
    assert identity.mask(NUMBER) + ".jpg" not in [r.source for r in result.refused]  # the number is never shown
    assert sorted(row["id"] for row in photos.missing(office.db, SITE)) == ["R004", "R005", "R006", "R007", "R008"]
    for person_id in result.imported:
        jpeg = photos.photo_of(office.db, person_id)
        with Image.open(io.BytesIO(jpeg)) as image:
            assert (image.format, image.size, image.mode) == ("JPEG", photos.THUMBNAIL, "RGB")
            assert "exif" not in image.info
        assert len(jpeg) <= photos.TARGET_BYTES
        assert b"PhoneMaker" not in jpeg


@pytest.mark.parametrize("data,code", [
    (declared_png(9_000, 7_000), "photo_huge"),  # under Pillow's own bomb limit, over ours: not decoded either
    (declared_png(100_000, 100_000), "photo_huge"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 100, "photo_corrupt"),
    (b"GIF89a not really", "photo_corrupt"),
    (gif(), "photo_format"),
    (portrait(5, fmt="WEBP"), "photo_format"),
])
def test_thumbnail_refusals(data, code):
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.thumbnail(data)
    assert refused.value.code == code


def test_an_xlsx_ledger_photo_column_matches_each_picture_by_its_row(office, tmp_path):
    give_identity(office, "R003", NUMBER)
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["金岸小区居民台账"], ["编号", "姓名", "身份证号", "楼栋", "单元", "房号", "照片"],
                ["R001", "张晓明", "", "1", "1", "101"], ["", "刘洋", NUMBER, "2", "1", "302"],
                ["R002", "张丽", "", "1", "1", "101"], ["R998", "无此人", "", "9", "9", "909"]):
        sheet.append(row)
    for seed, cell in ((1, "G3"), (3, "G4"), (8, "G6")):  # R002's row has no picture
        sheet.add_image(SheetImage(io.BytesIO(portrait(seed, (300, 400)))), cell)
    book.save(tmp_path / "台账.xlsx")
    result = photos.import_photos(office.db, office.config.keys_dir, tmp_path / "台账.xlsx", NOW)
    assert result.imported == ["R001", "R003"]
    assert [(r.source, r.code) for r in result.refused] == [("台账.xlsx:6", "photo_unknown_person")]
    assert "R002" in {row["id"] for row in photos.missing(office.db)}


def import_two(office, tmp_path) -> dict[str, bytes]:
    folder = tmp_path / "two"
    folder.mkdir()
    for seed, person_id in enumerate(("R001", "R002")):
        (folder / f"{person_id}.jpg").write_bytes(portrait(seed))
    assert photos.import_photos(office.db, office.config.keys_dir, folder, NOW).imported == ["R001", "R002"]
    return {pid: photos.photo_of(office.db, pid) for pid in ("R001", "R002")}


def gate_photos(gate) -> set[str]:
    return {row[0] for row in gate.db.conn.execute("SELECT person_id FROM holder_photos")}


def test_photos_reach_the_gate_in_the_bundle_and_leave_with_a_removed_person(office, gate, republish, tmp_path):
    stored = import_two(office, tmp_path)
    republish()
    assert gate_photos(gate) == {"R001", "R002"}
    assert photo_for(gate.db, "R001") == stored["R001"]
    assert photo_digest(gate.db, "R002") == hashlib.sha256(stored["R002"]).hexdigest()

    residents.remove_person(office.db, "R001", "moved out")
    assert photos.photo_of(office.db, "R001") is None
    republish()
    assert gate_photos(gate) == {"R002"}
    assert photo_for(gate.db, "R001") is None


def test_a_removed_photo_is_not_left_in_the_files_free_pages(office, tmp_path):
    """secure_delete: the deleted row's bytes are overwritten, not kept as free space."""
    stored = import_two(office, tmp_path)
    path = office.config.db_path
    office.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert stored["R001"] in path.read_bytes()  # in the file, so its absence below means something
    assert photos.remove_photo(office.db, "R001")
    office.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert stored["R001"] not in path.read_bytes() and stored["R002"] in path.read_bytes()


def test_a_forged_photo_breaks_the_bundle_signature(office, gate, tmp_path):
    import_two(office, tmp_path)
    _, path = office_mod.write_bundle(office, SITE, NOW, tmp_path / "b.bundle")
    envelope = json.loads(path.read_bytes())
    envelope["payload"] = envelope["payload"][:-8] + ("A" * 8 if envelope["payload"][-8:] != "A" * 8 else "B" * 8)
    with pytest.raises(registry.BundleError) as refused:
        registry.load_bundle(gate.db, json.dumps(envelope).encode(), SITE, NOW)
    assert refused.value.code == "bad_signature"


def test_a_site_with_photos_turned_off_sends_none_and_its_gate_deletes_its_own(community, office, gate, republish,
                                                                              tmp_path):
    import_two(office, tmp_path)
    republish()
    assert gate_photos(gate) == {"R001", "R002"}
    toml = community.office_home / "kiosk.toml"
    write_private(toml, tomli_w.dumps({**tomllib.loads(toml.read_text()), "sites_without_photos": [SITE]}).encode())
    with Office.open(community.office_home) as turned_off:
        _, path = office_mod.write_bundle(turned_off, SITE, NOW, tmp_path / "off.bundle")
    payload = registry.open_bundle(path.read_bytes(), registry.trusted_keys(gate.db))
    assert (payload["photos"], payload["settings"]["photos"]) == ({}, False)
    registry.load_bundle(gate.db, path.read_bytes(), SITE, NOW)
    assert gate_photos(gate) == set()
    assert registry.settings(gate.db)["photos"] is False
    assert photos.photo_of(office.db, "R001") is not None  # the office keeps them


def test_a_community_of_3600_stays_a_few_megabytes(office, gate, tmp_path):
    """3,600 residents with photos: the bundle stays small enough for a USB stick and a slow LAN."""
    thumbnails = [photos.thumbnail(portrait(seed, (240, 300))) for seed in range(60)]
    assert max(len(jpeg) for jpeg in thumbnails) <= photos.TARGET_BYTES
    with transaction(office.db):
        office.db["households"].insert_all([{"id": f"T{h:03d}", "site_id": SITE, "building": str(h // 60),
                                             "unit": "1", "room": str(h)} for h in range(900)])
        office.db["persons"].insert_all([{"id": f"P{n:04d}", "name": "测试", "household_id": f"T{n // 4:03d}"}
                                         for n in range(3600)])
    # 60 different photos: the same one recurs 400 KB apart in the bundle, out of gzip's reach
    photos.save_photos(office.db, {f"P{n:04d}": thumbnails[n % 60] for n in range(3600)}, NOW)
    _, path = office_mod.write_bundle(office, SITE, NOW, tmp_path / "big.bundle")
    size = path.stat().st_size
    assert size < min(40_000_000, MAX_BODY_BYTES), size  # `office push` sends it to a gate in one request
    assert size < 3600 * photos.TARGET_BYTES * 1.4 + 1_000_000  # base64 twice over gzip: ~1.37 times the JPEGs
    print(f"bundle of 3,600 persons with photos: {size} bytes")
    registry.load_bundle(gate.db, path.read_bytes(), SITE, NOW)
    assert gate.db["holder_photos"].count == 3600


def kiosk(home, *args, status=0):
    result = CliRunner().invoke(cli, ["--lang", "zh", "--home", str(home), *args], prog_name="kiosk")
    assert result.exit_code == status, result.output
    return result.output


def test_the_photo_commands(community, folder, office):
    home = community.office_home
    office.close()
    said = kiosk(home, "office", "photo", "import", str(folder), status=1)
    assert "R006.gif: 不是 JPEG 或 PNG 照片" in said
    assert "R005.png: 照片文件或像素过大（可能是恶意文件），未解码" in said
    assert said.splitlines()[-1] == "已导入 3 张照片，拒收 6 个文件；仍有 5 人没有照片"
    assert kiosk(home, "office", "photo", "list", "--missing").splitlines()[-1] == "共 5 人没有照片"
    listed = json.loads(kiosk(home, "office", "photo", "list", "--json"))
    assert [(row["id"], row["bytes"] <= photos.TARGET_BYTES) for row in listed] == [
        ("R001", True), ("R002", True), ("R003", True)]
    assert kiosk(home, "office", "photo", "remove", "R001") == "已删除 R001 的照片；各门岗在下一次加载名册时删除\n"
    assert "R001 没有照片" in kiosk(home, "office", "photo", "remove", "R001", status=1)
    assert "kiosk office photo import 居民台账.xlsx" in kiosk(home, "office", "photo", "--help")


@pytest.mark.parametrize("name,data,code", [
    ("台账.csv", "编号,姓名\nR001,张晓明\n".encode(), "photo_format"),  # a CSV holds no pictures
    ("台账.xlsx", b"PK\x03\x04 cut off", "unreadable"),
])
def test_a_ledger_without_pictures_is_refused_whole(office, tmp_path, name, data, code):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(KioskError) as refused:
        photos.import_photos(office.db, office.config.keys_dir, tmp_path / name, NOW)
    assert refused.value.code == code
    assert office.db["person_photos"].count == 0
