"""Printed pass cards for residents without a smartphone: A4 sheets of 8 cards with cut marks.

Each card: the QR code of the pass's token, the compound's name, the holder's masked name
(or the plate), building-unit-room, the kind of pass, its validity and its id; a resident's
card carries the holder's photo (kiosk.office.photos) in its top right corner when there is one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno

from kiosk.core import pdf_fonts
from kiosk.core.clock import parse_utc, utc_text
from kiosk.core.i18n import t
from kiosk.core.names import mask_name
from kiosk.office import photos
from kiosk.office.pass_book import find_passes
from kiosk.office.service import Office, token_of

if TYPE_CHECKING:  # fpdf (with fontTools and Pillow) is imported when cards are written, not by every `kiosk` command
    from fpdf import FPDF

COLUMNS, ROWS = 2, 4
CARD_W, CARD_H = 95.0, 65.0  # mm; 2 x 4 on A4 (210 x 297) leaves margins for the cut marks
LEFT, TOP = (210 - COLUMNS * CARD_W) / 2, (297 - ROWS * CARD_H) / 2
QR_SIZE, PAD, MARK = 50.0, 4.0, 5.0
PHOTO_W, PHOTO_H = 16.0, 20.0  # mm, the thumbnail's 4:5


@dataclass(frozen=True)
class Card:
    pass_id: str
    token: str
    kind: str
    holder: str  # masked name, or the plate
    address: str
    valid: str
    photo: bytes | None = None  # the resident's JPEG thumbnail


def cards_for(office: Office, site_id: str, now: datetime, household: str | None = None) -> list[Card]:
    """A card for every active, unexpired pass of a site (or one household): residents, vehicles, visitors."""
    office.check_site(site_id)
    zone = ZoneInfo(office.config["timezone"])
    rows = [row for row in find_passes(office, site_id=site_id, household=household)
            if row["status"] == "active" and row["valid_until"] > utc_text(now)]
    rows.sort(key=lambda row: (row["household_id"] or "", row["subject_kind"], row["subject_id"]))

    def day(text: str) -> str:
        return parse_utc(text).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return [Card(pass_id=row["id"], token=token_of(office, row), kind=t(f"passes.card.kind.{row['subject_kind']}"),
                 holder=row["subject_id"] if row["subject_kind"] == "vehicle" else mask_name(row["name"]),
                 address=t("passes.card.address", building=row["building"], unit=row["unit"], room=row["room"])
                 if row["building"] else "",
                 valid=t("passes.card.valid", start=day(row["valid_from"]), end=day(row["valid_until"])),
                 photo=photos.photo_of(office.db, row["subject_id"]) if row["subject_kind"] == "resident" else None)
            for row in rows]


def write_cards(cards: list[Card], compound: str, out: Path) -> int:
    """Write the cards to an A4 PDF, 8 a page; returns the number of pages."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_title(t("passes.card.title", compound=compound))
    pdf_fonts.use_cjk_font(pdf)
    per_page = COLUMNS * ROWS
    for start in range(0, len(cards), per_page):
        pdf.add_page()
        _cut_marks(pdf)
        for index, card in enumerate(cards[start:start + per_page]):
            _card(pdf, card, compound, LEFT + (index % COLUMNS) * CARD_W, TOP + (index // COLUMNS) * CARD_H)
    pdf.output(str(out))
    return pdf.pages_count


def _cut_marks(pdf: FPDF) -> None:
    """Ticks in the margins along every cut line (the card edges), none over a card."""
    pdf.set_line_width(0.2)
    for column in range(COLUMNS + 1):
        x = LEFT + column * CARD_W
        pdf.line(x, TOP - MARK - 1, x, TOP - 1)
        pdf.line(x, TOP + ROWS * CARD_H + 1, x, TOP + ROWS * CARD_H + MARK + 1)
    for row in range(ROWS + 1):
        y = TOP + row * CARD_H
        pdf.line(LEFT - MARK - 1, y, LEFT - 1, y)
        pdf.line(LEFT + COLUMNS * CARD_W + 1, y, LEFT + COLUMNS * CARD_W + MARK + 1, y)


def _card(pdf: FPDF, card: Card, compound: str, x: float, y: float) -> None:
    image = io.BytesIO()
    segno.make(card.token, error="m", micro=False, boost_error=False).save(image, kind="png", scale=10, border=4)
    image.seek(0)
    pdf.image(image, x=x + PAD / 2, y=y + (CARD_H - QR_SIZE) / 2, w=QR_SIZE, h=QR_SIZE)
    left, width = x + QR_SIZE + PAD, CARD_W - QR_SIZE - PAD * 1.5
    photo_bottom = y + PAD + PHOTO_H
    if card.photo:
        pdf.image(io.BytesIO(card.photo), x=left + width - PHOTO_W, y=y + PAD, w=PHOTO_W, h=PHOTO_H)
    pdf.set_xy(left, y + PAD + 2)
    lines = [(12, compound), (10, card.kind), (15, card.holder), (9, card.address), (7, card.valid),
             (8, t("passes.card.pass_id", pass_id=card.pass_id))]
    for size, text in lines:
        if not text:
            continue
        pdf.set_font(pdf_fonts.FAMILY, size=size)
        pdf.set_x(left)
        beside_photo = card.photo and pdf.get_y() < photo_bottom  # the lines beside it wrap before it
        pdf.multi_cell(width - (PHOTO_W + 2 if beside_photo else 0), size * 0.5, text, new_x="LMARGIN",
                       new_y="NEXT")
        pdf.set_y(pdf.get_y() + 1.5)
