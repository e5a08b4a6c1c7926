"""The CJK font for the office's PDFs (pass cards, reports): Debian's fonts-noto-cjk.

One lookup for every PDF the office writes with fpdf2: ``use_cjk_font(pdf)`` registers the
font under the family name ``CJK`` (regular and bold) and selects it.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from kiosk.core.errors import KioskError

FAMILY = "CJK"
# fonts-noto-cjk's collections; index 2 of each is Simplified Chinese (SC).
FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
REGULAR, BOLD = "NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"
SC_INDEX = 2


class FontMissing(KioskError):
    def __init__(self) -> None:
        super().__init__("font_missing", f"no CJK font: install Debian's fonts-noto-cjk ({REGULAR} in "
                                         f"{FONT_DIRS[0]})")


def find_font(name: str = REGULAR) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FontMissing()


def use_cjk_font(pdf: FPDF) -> None:
    """Register the CJK font (bold falls back to regular when missing) and select it."""
    regular = find_font(REGULAR)
    try:
        bold = find_font(BOLD)
    except FontMissing:
        bold = regular
    pdf.add_font(FAMILY, "", regular, collection_font_number=SC_INDEX)
    pdf.add_font(FAMILY, "B", bold, collection_font_number=SC_INDEX)
    pdf.set_font(FAMILY, size=10)
