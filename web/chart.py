"""People in and out per hour of a day, laid out as SVG bars (drawn by a template)."""

from __future__ import annotations

from datetime import date

import sqlite_utils

from kiosk.core.event_kinds import kinds_with

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 300, 40, 30, 10


def hourly_counts(db: sqlite_utils.Database, day: date) -> dict[str, list[int]]:
    """Allowed passages of persons per local hour, by direction."""
    counts = {"in": [0] * 24, "out": [0] * 24}
    passages = kinds_with(passage=True)
    marks = ",".join("?" for _ in passages)
    rows = db.query(
        f"SELECT direction, CAST(substr(ts_local, 12, 2) AS INTEGER) AS hour, count(*) AS n FROM events "
        f"WHERE substr(ts_local, 1, 10) = ? AND outcome = 'allow' AND kind IN ({marks}) "
        f"AND COALESCE(subject_kind, '') != 'vehicle' AND direction IN ('in', 'out') GROUP BY direction, hour",
        [day.isoformat(), *passages])
    for row in rows:
        counts[row["direction"]][row["hour"]] = row["n"]
    return counts


def bars(counts: dict[str, list[int]]) -> dict:
    """Geometry for the template: two bars per hour, y axis ticks."""
    top = max(max(counts["in"]), max(counts["out"]), 1)
    slot = (WIDTH - LEFT) / 24
    plot = HEIGHT - BOTTOM - TOP

    def bar(direction: str, hour: int, offset: float) -> dict:
        value = counts[direction][hour]
        height = plot * value / top
        return {"x": round(LEFT + hour * slot + offset, 1), "y": round(TOP + plot - height, 1),
                "w": round(slot * 0.4, 1), "h": round(height, 1), "value": value, "direction": direction}

    return {"width": WIDTH, "height": HEIGHT, "base": TOP + plot, "left": LEFT,
            "bars": [bar(d, h, slot * (0.1 if d == "in" else 0.5)) for h in range(24) for d in ("in", "out")],
            "hours": [{"x": round(LEFT + h * slot + slot / 2, 1), "label": h} for h in range(0, 24, 2)],
            "ticks": [{"y": round(TOP + plot - plot * v / top, 1), "label": v} for v in sorted({0, top // 2, top})],
            "total_in": sum(counts["in"]), "total_out": sum(counts["out"])}
