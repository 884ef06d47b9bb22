"""Run the benchmarks and print one table: each figure beside its floor measured in the same run.

    make bench                         # everything, full sizes (a few minutes)
    .venv/bin/python bench/run.py --quick
    .venv/bin/python bench/run.py --only drain --only scale
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import common  # noqa: E402
from common import RESULTS, Row, fmt  # noqa: E402

SUITES = ("drain", "overhead", "enqueue", "latency", "scale", "memory", "pg", "live", "chain")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPUs ({cpu}); Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; "
            f"load average {load:.2f} at start")


def render(rows: list[Row]) -> str:
    headers = ["measurement", "value", "reference (same run)", "ratio", "target", "result"]
    body = [[r.name, fmt(r.value, r.unit), r.reference, "-" if r.ratio is None else f"{r.ratio:.2f}x", r.target,
             r.verdict() + (f" ({r.note})" if r.note and r.value is None else "")] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note and r.value is not None]
    return "\n".join(out + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development (not for the record)")
    parser.add_argument("--only", action="append", choices=SUITES, metavar="NAME",
                        help=f"run only this suite (repeatable): {', '.join(SUITES)}")
    parser.add_argument("--fresh-scale", action="store_true", help="rebuild the cached scale database")
    args = parser.parse_args(argv)
    suites = args.only or list(SUITES)
    print(f"machine: {machine()}", flush=True)
    common.compile_project()
    rows: list[Row] = []
    failed = False
    for name in SUITES:
        if name not in suites:
            continue
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        module = __import__(name)
        try:
            rows.extend(module.run(args.quick, args.fresh_scale) if name == "scale" else module.run(args.quick))
        except Exception as exc:  # one broken suite must not hide the others' figures
            traceback.print_exc()
            rows.append(Row(f"{name}: failed", None, "", note=str(exc).splitlines()[0][:120] if str(exc) else repr(exc)))
            failed = True
        print(f"  {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    table = render(rows)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("last-quick.md" if args.quick else "last.md")).write_text(f"machine: {machine()}\n\n{table}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
