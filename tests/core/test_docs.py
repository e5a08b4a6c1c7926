"""docs/decision-codes.md agrees with the code table (kiosk.core.codes) and the event kinds.

Every decision code is documented (meaning, default severity, guard action), its flags
are in the flags table, and the event kinds table lists exactly the kinds the recorder takes.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

from kiosk.core.codes import CODES
from kiosk.core.event_kinds import KINDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "decision-codes.md"
WORDS = {"yes": True, "no": False}


def sections() -> dict[str, str]:
    parts = re.split(r"^### `([a-z_]+)`\s*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {name: body.split("\n## ")[0] for name, body in zip(parts[1::2], parts[2::2])}


def table_under(heading: str) -> dict[str, dict[str, str]]:
    """The first markdown table after ``## heading``: first column (without backticks) -> row."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}")
    lines = [line for line in text[start:].split("\n## ")[1].splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(header, row)) for row in rows}


def documented_flags(row: dict[str, str], flags: dict[str, object]) -> dict[str, object]:
    """The row's cells for the given flag names, yes/no read as booleans."""
    return {name: WORDS.get(row.get(name, ""), row.get(name)) for name in flags}


def test_no_section_for_a_code_that_does_not_exist():
    assert set(sections()) - set(CODES) == set()


@pytest.mark.parametrize("name", sorted(CODES))
def test_code_is_documented_with_its_default_severity(name):
    body = sections().get(name)
    assert body is not None, f"docs/decision-codes.md has no section ### `{name}`"
    code = CODES[name]
    kind = "fixed" if code.credential else "adjustable"
    assert f"- **Default severity / 默认:** `{code.severity}` ({kind})" in body
    for label in ("- **Meaning / 含义:**", "- **Guard / 值班员:**"):
        line = next((line for line in body.splitlines() if line.startswith(label)), "")
        assert len(line) > len(label) + 20, f"{name}: {label} is missing or empty"


def test_flags_table_lists_every_code_once_in_order():
    assert list(table_under("Flags / 代码属性")) == list(CODES)


@pytest.mark.parametrize("name", sorted(CODES))
def test_flags_table_agrees_with_the_code(name):
    fields = {key: value for key, value in asdict(CODES[name]).items() if key != "name"}
    assert documented_flags(table_under("Flags / 代码属性")[name], fields) == fields


def test_event_kinds_table_lists_every_kind_once_in_order():
    assert list(table_under("Event kinds / 事件类型")) == list(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_event_kinds_table_agrees_with_the_kind(name):
    row = table_under("Event kinds / 事件类型")[name]
    fields = {key: value for key, value in asdict(KINDS[name]).items() if key != "name"}
    assert documented_flags(row, fields) == fields
    assert len(row["recorded by / 记录者"]) > 20, f"{name}: say what records it"
