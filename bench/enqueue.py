"""Enqueue: one `queuectl enqueue` process per job, and `enqueue -` with many lines."""

from __future__ import annotations

import json
import sys

from common import PYTHON, QUEUECTL, ROOT, Row, Scratch, count_states, create_db, median_wall, wall

# The floor for `enqueue -`: parse the same lines and insert them with one executemany into a
# database of the real schema. No validation, no ids beyond a counter.
BULK_FLOOR = """
import json, sqlite3, sys, time
sys.path.insert(0, {root!r})
from core.store import SQLiteStore
SQLiteStore({db!r}).close()
conn = sqlite3.connect({db!r}, isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = NORMAL")
now = time.time()
rows = [("f%d" % i, json.loads(line)["command"], "pending", 3, 0, now, None, now, now)
        for i, line in enumerate(sys.stdin)]
conn.execute("BEGIN IMMEDIATE")
conn.executemany("INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, created_at, updated_at)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
conn.execute("COMMIT")
"""


def bulk_lines(n: int) -> bytes:
    # a realistic mix: most lines only a command, some with priority, retries or a delay
    lines = []
    for i in range(n):
        obj: dict = {"command": f"echo job {i}"}
        if i % 10 == 0:
            obj["priority"] = i % 7
        if i % 25 == 0:
            obj["max_retries"] = 1
        if i % 50 == 0:
            obj["delay"] = 5
        lines.append(json.dumps(obj))
    return ("\n".join(lines) + "\n").encode()


def run(quick: bool) -> list[Row]:
    calls = 10 if quick else 20
    bulk = 20_000 if quick else 100_000
    rows = []
    with Scratch() as tmp:
        db = str(tmp / "jobs.db")
        create_db(db)
        bare = median_wall([PYTHON, "-c", "pass"], calls) * 1000
        floor = median_wall([PYTHON, "-c", "import sqlite3"], calls) * 1000
        needed = median_wall([PYTHON, "-c", "import argparse, json, sqlite3"], calls) * 1000
        one = median_wall([QUEUECTL, "--db", db, "enqueue", '{"command": "true"}'], calls) * 1000
        status = median_wall([QUEUECTL, "--db", db, "status"], calls) * 1000
        rows.append(Row("floor: python -c pass", bare, "ms", note=f"median of {calls}"))
        rows.append(Row("floor: python -c 'import sqlite3'", floor, "ms", note=f"median of {calls}"))
        rows.append(Row(f"queuectl enqueue JSON (median of {calls})", one, "ms", f"import sqlite3 {floor:.1f} ms",
                        one / floor, "<= 60 ms (3.75x floor)", one <= 60 or one / floor <= 3.75))
        # issue 12's target, against the bare interpreter
        for name, took in (("enqueue JSON", one), ("status", status)):
            rows.append(Row(f"queuectl {name} against python -c pass", took, "ms", f"python -c pass {bare:.1f} ms",
                            took / bare, "<= 2x python -c pass", took / bare <= 2))
        # what is left above the standard modules such a command loads: our imports and the work.
        # Those modules alone against the bare interpreter show how much of the 2x they leave.
        rows.append(Row("floor: python -c 'import argparse, json, sqlite3'", needed, "ms",
                        f"python -c pass {bare:.1f} ms", needed / bare, note=f"median of {calls}"))
        rows.append(Row("queuectl status against those modules", status, "ms", f"the modules {needed:.1f} ms",
                        status / needed))
    data = bulk_lines(bulk)
    with Scratch() as tmp:
        db = str(tmp / "floor.db")
        floor_rate = bulk / wall([PYTHON, "-c", BULK_FLOOR.format(root=str(ROOT), db=db)], input=data)
    with Scratch() as tmp:
        db = str(tmp / "jobs.db")
        create_db(db)
        rate = bulk / wall([QUEUECTL, "--db", db, "enqueue", "-"], input=data)
        if count_states(db)["pending"] != bulk:
            raise RuntimeError("enqueue - did not insert every line")
    rows.append(Row(f"floor: json.loads + executemany, {bulk:,} rows", floor_rate, "jobs/s"))
    rows.append(Row(f"queuectl enqueue - ({bulk:,} lines)", rate, "jobs/s", f"executemany {floor_rate:,.0f} jobs/s",
                    rate / floor_rate, ">= 30,000 jobs/s", rate >= 30_000))
    return rows
