"""The layers' import directions, checked on the source (every import, also inside functions).

hardware knows nothing of kiosk or web; kiosk.core is pure (no SQLite, Flask or devices);
the store sits on core only; the gate side (kiosk.gate, web) never reaches the office side,
so the office's signing key cannot be loaded by gate code; and no two modules import each
other, directly or round a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kiosk", "web", "hardware")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute names of everything ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


RULES = [
    # (importing modules under, may not import)
    (("hardware",), ("kiosk", "web")),
    (("kiosk.core",), ("sqlite3", "sqlite_utils", "flask", "hardware", "web", "kiosk.store", "kiosk.gate",
                       "kiosk.office", "kiosk.cli", "kiosk.sim")),
    (("kiosk.store",), ("flask", "hardware", "web", "kiosk.gate", "kiosk.office", "kiosk.cli", "kiosk.sim")),
    (("kiosk.gate", "web"), ("kiosk.office", "kiosk.cli", "kiosk.sim")),
    (("kiosk.office",), ("hardware", "web", "kiosk.gate", "kiosk.cli", "kiosk.sim")),
]


@pytest.mark.parametrize("importers,forbidden", RULES, ids=[",".join(r[0]) for r in RULES])
def test_layers_import_only_downwards(importers, forbidden):
    wrong = sorted(f"{name} imports {target}" for name, path in modules().items() if within(name, importers)
                   for target in imports_of(path) if within(target, forbidden))
    assert wrong == []


def test_no_module_imports_itself_round_a_circle():
    known = modules()
    # A module's own packages are imported before it in any case: not an edge of a circle.
    graph = {name: {t for t in imports_of(path, top_level_only=True)
                    if t in known and t != name and not name.startswith(t + ".")}
             for name, path in known.items()}
    cycles = [cycle for cycle in map(_cycle_from, [(name, graph) for name in graph]) if cycle]
    assert cycles == []


def _cycle_from(args) -> list[str] | None:
    """A path start -> ... -> start through module-level imports, if there is one."""
    start, graph = args
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for target in graph[node]:
            if target == start:
                return path + [start]
            if target not in seen:
                seen.add(target)
                stack.append((target, path + [target]))
    return None


def test_the_checks_see_a_forbidden_import(tmp_path):
    """The walker finds imports inside functions too (a check that finds nothing proves nothing)."""
    source = tmp_path / "sample.py"
    source.write_text("import os\n\ndef late():\n    from kiosk.office.service import Office\n", encoding="utf-8")
    assert imports_of(source) == {"os", "kiosk.office.service", "kiosk.office.service.Office"}
    assert imports_of(source, top_level_only=True) == {"os"}
