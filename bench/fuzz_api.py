"""The long API-fuzzing profile: schemathesis over every operation of /api/v1/openapi.json.

    .venv/bin/python bench/fuzz_api.py [--examples 100] [--database sqlite|postgresql]

Runs the same proof as ``make test`` (tests/functional/test_api_fuzz.py: the examples, coverage
and fuzzing phases over every operation, in process, on a populated database, with an API key
holding every role) with ``--examples`` generated cases per operation and phase instead of the
CI profile's 4, then prints the figures for bench/RESULTS.md (Reliability, API fuzzing):
operations, examples run, failures found, time, and the load average of the machine.

Exits 1 when an operation failed (the pytest output above the figures says which and how).
Not part of ``make bench``: a long profile takes many minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/functional/test_api_fuzz.py::test_every_operation_holds_to_the_openapi_document"


def run(examples: int, database: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        stats = Path(scratch) / "fuzz.json"
        env = {**os.environ, "PORTAL_FUZZ_EXAMPLES": str(examples), "PORTAL_FUZZ_STATS": str(stats)}
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", database,
                                    TEST], cwd=ROOT, env=env, check=False)
        wall = time.perf_counter() - started
        if not stats.exists():
            raise SystemExit(f"the fuzz run wrote no figures (pytest exit {completed.returncode})")
        figures: dict[str, object] = json.loads(stats.read_text(encoding="utf-8"))
    figures.update({"examples_per_operation": examples, "database": database, "wall_seconds": round(wall, 1),
                    "load_average": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
                    "pytest_exit": completed.returncode})
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="generated cases per operation and phase")
    parser.add_argument("--database", choices=("sqlite",), default="sqlite",
                        help="the fuzz proof runs on SQLite (the bad-input corpus covers PostgreSQL)")
    args = parser.parse_args()
    figures = run(args.examples, args.database)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    print(f"| {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | {args.examples} | {figures['operations']} | "
          f"{figures['examples']} | {figures['failures']} | {figures['seconds']} s | {figures['load_average']} |")
    return 0 if figures["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
