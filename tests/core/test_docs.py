"""Every decision code is documented (meaning, default severity, guard action) as CODES says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.core.codes import CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "decision-codes.md"


def sections() -> dict[str, str]:
    parts = re.split(r"^### `([a-z_]+)`\s*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {name: body.split("\n## ")[0] for name, body in zip(parts[1::2], parts[2::2])}


def test_no_section_for_a_code_that_does_not_exist():
    assert set(sections()) - set(CODES) == set()


@pytest.mark.parametrize("name", sorted(CODES))
def test_code_is_documented_with_its_default_severity(name):
    body = sections().get(name)
    assert body is not None, f"docs/decision-codes.md has no section ### `{name}`"
    code = CODES[name]
    kind = "adjustable" if code.adjustable else "fixed"
    assert f"- **Default severity / 默认:** `{code.severity}` ({kind})" in body
    for label in ("- **Meaning / 含义:**", "- **Guard / 值班员:**"):
        line = next((line for line in body.splitlines() if line.startswith(label)), "")
        assert len(line) > len(label) + 20, f"{name}: {label} is missing or empty"
