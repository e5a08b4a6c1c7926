"""Run every benchmark module present, in a quick mode (``python -m bench`` / ``make bench``).

Quick runs print their reports and leave docs/benchmarks.md alone; run a module
on its own (e.g. ``python -m bench.pipeline``) for the full, documented numbers.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tempfile
from pathlib import Path

MODULES = ("bench.decoders", "bench.pipeline", "bench.core", "bench.sync", "bench.scale", "bench.office_pages",
           "bench.registry_load", "bench.district")


def quick_args(name: str, scratch: Path) -> list[str]:
    if name == "bench.decoders":
        return ["--frames", "120", "--out", str(scratch / "decoders.md")]
    if name == "bench.pipeline":
        return ["--frames", "120", "--latency", "10", "--no-write"]
    return ["--quick"]


def main() -> int:
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODULES:
            if importlib.util.find_spec(name) is None:
                continue
            print(f"== {name} (quick) ==", file=sys.stderr)
            module = importlib.import_module(name)
            try:
                status |= module.main(quick_args(name, Path(tmp))) or 0
            except SystemExit as exc:  # a module without --quick: run it as it is
                if exc.code != 2:
                    raise
                status |= module.main([]) or 0
    return status


if __name__ == "__main__":
    raise SystemExit(main())
