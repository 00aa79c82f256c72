"""Measured quality of the local evaluator. Not a test: prints figures, JSON on the last line.

Usage (from the repository root, inside the project's environment)::

    python -m bench.quality rjdb PATH            # pairwise / length-controlled / cross / gap recall
    python -m bench.quality skills PATH          # skill recognition vs annotated spans
    python -m bench.quality latency [--runs N]   # p50/p99 for a 2-page CV + 4-page report
    python -m bench.quality manipulation         # manipulated variants never score higher
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _print(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if not isinstance(value, dict | list):
            print(f"{key:>28}: {value}", file=sys.stderr)
    print(json.dumps(result, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rjdb = sub.add_parser("rjdb", help="score a file in the rjdb JSONL format")
    rjdb.add_argument("path", type=Path)
    rjdb.add_argument("--limit", type=int, default=None, help="only the first N rows")
    skills = sub.add_parser("skills", help="skill recognition vs tech_validation_annotations.csv")
    skills.add_argument("path", type=Path)
    latency = sub.add_parser("latency", help="evaluation latency, p50 and p99")
    latency.add_argument("--runs", type=int, default=200)
    sub.add_parser("manipulation", help="manipulated variants must not score higher")
    args = parser.parse_args(argv)

    if args.command == "rjdb":
        from bench.quality_rjdb import evaluate_rows, load_rows

        rows = load_rows(args.path)
        if args.limit is not None:
            rows = rows[: args.limit]
        _print(evaluate_rows(rows))
    elif args.command == "skills":
        from bench.quality_skills import measure_skills

        _print(measure_skills(args.path))
    elif args.command == "latency":
        from bench.quality_latency import measure_latency

        _print(measure_latency(args.runs))
    else:
        from bench.quality_manipulation import measure_manipulation

        result = measure_manipulation()
        _print(result)
        return 0 if result["violations"] == 0 else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
