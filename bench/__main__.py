"""``python -m bench``: run every benchmark module present (core, decoders, sync).

Each runs in its own process, as ``python -m bench.<name>``, and writes its own section
of docs/benchmarks.md. ``--quick`` runs each in its quick mode (seconds, not minutes) and
leaves docs/ alone: quick reports go to bench/results/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK_ARGS = {  # how each module runs quickly without overwriting the published results
    "core": ["--quick"],
    "decoders": ["--frames", "48", "--out", "bench/results/decoders-quick.md"],
    "sync": ["--quick"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark in its quick mode")
    parser.add_argument("only", nargs="*", help="run only these modules (default: all present)")
    args = parser.parse_args(argv)
    present = [name for name in QUICK_ARGS if (HERE / f"{name}.py").exists()]
    failed = []
    for name in args.only or present:
        extra = QUICK_ARGS.get(name, []) if args.quick else []
        print(f"== bench.{name} {' '.join(extra)}", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
