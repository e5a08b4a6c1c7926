"""Issue 11: printed pass cards, rendered as a printer would (pdftoppm) and read back with the
gate's own QR decoder: every card's QR code is its pass."""

from __future__ import annotations

import math
import shutil
import subprocess
from datetime import timedelta

import cv2
import pytest

from kiosk.core import passes, pdf_fonts
from kiosk.core.signing import key_id
from kiosk.office import cards as cards_mod
from kiosk.office import photos
from kiosk.office import service as office_mod
from kiosk.office.service import Office
from kiosk.sim.demo import SITE, create_demo
from tests.conftest import NOW
from tests.office.portraits import portrait

from hardware.decoder import ZxingDecoder  # isort: skip

DPI = 150
A4_PIXELS = (math.ceil(210 / 25.4 * DPI), math.ceil(297 / 25.4 * DPI))  # width, height


def render(pdf, out_dir) -> list:
    """Each page of the PDF as a grayscale image, the way it would be printed (pdftoppm)."""
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), str(out_dir / "page")], check=True,
                   timeout=120)
    return [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in sorted(out_dir.glob("page-*.png"))]


def text_of(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.fixture(scope="module")
def printed(demo_template, tmp_path_factory):
    """Cards for the whole site, written once: the demo's 7 valid passes and 2 more (9 cards, 2 pages)."""
    folder = tmp_path_factory.mktemp("cards")
    community = create_demo(shutil.copytree(demo_template(NOW), folder / "demo"), NOW)
    with Office.open(community.office_home) as office:
        for kind, subject in (("resident", "R006"), ("vehicle", "陕H6789A")):
            office_mod.issue_pass(office, subject_kind=kind, subject_id=subject, site_id=SITE, now=NOW)
        cards = cards_mod.cards_for(office, SITE, NOW)
        pages = cards_mod.write_cards(cards, "金岸小区", folder / "cards.pdf")
        valid = {row["id"] for row in office.db.query("SELECT id FROM passes WHERE status = 'active'")}
        public = office.signing_key().public_key()
    return community, cards, pages, folder / "cards.pdf", valid, public


def test_every_card_qr_decodes_back_to_its_pass(printed, tmp_path):
    community, cards, pages, pdf, valid, public = printed
    assert pages == 2 and len(valid) == 9 and {card.pass_id for card in cards} == valid
    images = render(pdf, tmp_path)
    assert [image.shape[::-1] for image in images] == [A4_PIXELS, A4_PIXELS]
    decoder = ZxingDecoder()
    found = [decoder.decode(image) for image in images]
    assert [len(tokens) for tokens in found] == [8, 1]
    decoded = {passes.parse(token)[2].pass_id: token for tokens in found for token in tokens}
    assert set(decoded) == valid
    # a card carries the very token the office issued (Ed25519 signs deterministically)
    assert decoded[community.pass_ids["resident"]] == community.tokens["resident"]
    keys = {key_id(public): public}
    assert [passes.check(token, keys, SITE, NOW).code for token in decoded.values()] == [None] * 9


def test_cards_carry_masked_names_addresses_and_kinds_in_a_cjk_font(printed):
    _, _, _, pdf, _, _ = printed
    text = text_of(pdf)
    for expected in ("金岸小区", "张*明", "张*", "1号楼1单元101室", "居民出入证", "车辆通行证", "陕H12345"):
        assert expected in text, expected
    assert "张晓明" not in text and "13800000001" not in text  # no full name, no phone
    fonts = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    assert "NotoSansCJKSC" in fonts  # embedded (a subset)


def test_one_household_cards(office):
    cards = cards_mod.cards_for(office, SITE, NOW, household="jinan:1-1-101")
    assert sorted((card.kind, card.holder, card.address) for card in cards) == [
        ("居民出入证", "张*", "1号楼1单元101室"), ("居民出入证", "张*明", "1号楼1单元101室"),
        ("车辆通行证", "陕H12345", "1号楼1单元101室")]
    assert cards_mod.cards_for(office, SITE, NOW + timedelta(days=31), household="jinan:1-1-101") == []


def test_without_the_cjk_font_the_office_is_told_what_to_install(tmp_path):
    with pytest.raises(pdf_fonts.FontMissing) as missing:
        pdf_fonts.cjk_font_path([str(tmp_path / "NotoSansCJK-Regular.ttc")])
    assert (missing.value.code, str(missing.value)) == (
        "font_missing", f"没有中文字体：请安装 Debian 的 fonts-noto-cjk（{tmp_path} 中的 NotoSansCJK-Regular.ttc）")


def test_a_card_carries_the_holders_photo_and_its_qr_still_reads(community, office, tmp_path):
    """Issue 17: the photo sits in the card's top right corner; the printed QR code is still the pass."""
    jpeg = photos.thumbnail(portrait(1))
    photos.save_photos(office.db, {"R001": jpeg}, NOW)
    cards = cards_mod.cards_for(office, SITE, NOW, household="jinan:1-1-101")
    assert sorted((card.holder, card.photo) for card in cards) == [
        ("张*", None), ("张*明", jpeg), ("陕H12345", None)]  # R002 has none; a vehicle card has no photo
    pdf = tmp_path / "cards.pdf"
    assert cards_mod.write_cards(cards, "金岸小区", pdf) == 1
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True,
                            timeout=60).stdout.splitlines()[2:]
    assert sorted((int(row.split()[3]), int(row.split()[4]), row.split()[8]) for row in listed
                  if row.split()[8] == "jpeg") == [(160, 200, "jpeg")]  # the thumbnail, embedded as it is
    tokens = ZxingDecoder().decode(render(pdf, tmp_path)[0])
    assert sorted(tokens) == sorted(office_mod.token_of(office, row) for row in office.db.query(
        "SELECT * FROM passes WHERE id IN (?, ?, ?)", [card.pass_id for card in cards]))
    assert community.tokens["resident"] in tokens  # R001's card, photo and all
    text = text_of(pdf)
    for expected in ("金岸小区", "居民出入证", "张*明", "1号楼1单元101室"):
        assert expected in text, expected
