"""The CJK font for the office's PDFs (pass cards, reports): Debian's fonts-noto-cjk.

One lookup for every PDF the office writes with fpdf2: ``use_cjk_font(pdf)`` registers the
font under the family name ``CJK`` and selects it. One weight only: each weight costs about
two seconds to load and subset, so headings are set apart by size.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from kiosk.core.errors import KioskError
from kiosk.core.i18n import t

FAMILY = "CJK"
# fonts-noto-cjk's collection; its font number 2 is Simplified Chinese (SC).
FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
REGULAR = "NotoSansCJK-Regular.ttc"
SC_INDEX = 2


class FontMissing(KioskError):
    def __init__(self) -> None:
        super().__init__("font_missing", t("passes.font_missing", font=REGULAR, folder=FONT_DIRS[0]))


def find_font(name: str = REGULAR) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FontMissing()


def use_cjk_font(pdf: FPDF) -> None:
    """Register the CJK font and select it."""
    pdf.add_font(FAMILY, "", find_font(), collection_font_number=SC_INDEX)
    pdf.set_font(FAMILY, size=10)
