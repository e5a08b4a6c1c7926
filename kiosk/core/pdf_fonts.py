"""The CJK font of every PDF the kiosk writes (pass cards, the daily report): fonts-noto-cjk.

``use_cjk_font(pdf)`` registers Debian's Noto Sans CJK with an fpdf2 document under the family
name ``CJK`` and selects it. One weight only: each weight costs about two seconds to load and
subset, so headings are set apart by size.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiosk.core.errors import KioskError
from kiosk.core.i18n import t

FAMILY = "CJK"
# Debian's fonts-noto-cjk; the first that exists is used.
CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")
# Each is a collection: JP, KR, SC, TC, HK. Simplified Chinese is font 2; font 0 draws
# Japanese glyph shapes.
SIMPLIFIED_CHINESE = 2


class FontMissing(KioskError):
    """No CJK font is installed (``font_missing``)."""

    def __init__(self, looked_at: str) -> None:
        super().__init__("font_missing", t("passes.font_missing", font=Path(looked_at).name,
                                           folder=Path(looked_at).parent))


def cjk_font_path(candidates: Iterable[str] = CANDIDATES) -> Path:
    candidates = list(candidates)
    for candidate in map(Path, candidates):
        if candidate.is_file():
            return candidate
    raise FontMissing(candidates[0])


def use_cjk_font(pdf: Any, size: float = 10) -> None:
    """Register the CJK font with the fpdf2 document *pdf* and select it."""
    pdf.add_font(FAMILY, "", str(cjk_font_path()), collection_font_number=SIMPLIFIED_CHINESE)
    pdf.set_font(FAMILY, size=size)
