"""Where the CJK font for PDFs is (fonts-noto-cjk, a system package): Chinese text in fpdf2."""

from __future__ import annotations

from pathlib import Path

from kiosk.core.errors import KioskError

# Debian's fonts-noto-cjk; the first that exists is used.
CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")


# Each is a collection: JP, KR, SC, TC, HK. Simplified Chinese is font 2 (fpdf2's
# ``add_font(..., collection_font_number=SIMPLIFIED_CHINESE)``); font 0 draws Japanese glyph shapes.
SIMPLIFIED_CHINESE = 2


class FontMissing(KioskError):
    """No CJK font is installed (``no_cjk_font``)."""


def cjk_font_path() -> Path:
    for candidate in map(Path, CANDIDATES):
        if candidate.exists():
            return candidate
    raise FontMissing("no_cjk_font", "no CJK font for PDFs: install fonts-noto-cjk (apt-get install fonts-noto-cjk)")
