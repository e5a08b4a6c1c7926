"""Names as shown to anyone but the office: masked (the guard screen, printed pass cards)."""

from __future__ import annotations


def mask_name(name: str | None) -> str:
    """张晓明 -> 张*明, 张丽 -> 张*, longer names keep only the first and last character."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" + name[-1]
