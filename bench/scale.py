"""Scale: a database of a million jobs (completed, dead and pending mixed), and how the read
commands and the app cope with it."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import shutil
import sqlite3
import time
from pathlib import Path

from common import PYTHON, QUEUECTL, RESULTS, ROOT, Row, Scratch, create_db, median_wall, wall

MIX = (("completed", 0.70), ("dead", 0.10), ("pending", 0.20))
QUEUES = 10  # the jobs spread over q0 .. q9 (issue 13: the figures hold with 10 queues)


def generate(path: Path, n: int) -> None:
    """Create the schema through the engine's own store, then fill it with direct SQL: one job row
    per job, one run row per finished job, in one transaction (and the per-state counters)."""
    from core.store import SQLiteStore

    SQLiteStore(str(path)).close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(4)
    start = time.time() - 30 * 86400
    cuts, total = [], 0.0
    for state, share in MIX:
        total += share
        cuts.append((total * n, state))

    def state_of(i: int) -> str:
        for cut, state in cuts:
            if i < cut:
                return state
        return MIX[-1][0]

    def jobs():
        for i in range(n):
            state = state_of(rng.random() * n)
            # one job in ten waits for the one before it, kept pending (issue 15's 10% waiting)
            waits = i % 10 == 9
            if i % 10 in (8, 9):
                state = "pending"
            created = start + i * (30 * 86400 / n)
            finished = created + 1.5 if state != "pending" else None
            started = created + 0.5 if state != "pending" else None
            attempts = 0 if state == "pending" else (4 if state == "dead" else 1)
            yield (f"job-{i:07d}", f"python3 process.py --item {i} --out /data/out/{i}.json", state, attempts, 3,
                   rng.choice((0, 0, 0, 5)), created, None, created, finished or created, started, finished,
                   None if state == "pending" else (0 if state == "completed" else 1),
                   "exit code 1" if state == "dead" else None, "host:1234:abc:1" if started else None,
                   f"q{i % QUEUES}", f"job-{i - 1:07d}" if waits else None, int(waits))

    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO jobs (id, command, state, attempts, max_retries, priority, run_at, timeout, created_at,"
        " updated_at, started_at, finished_at, exit_code, last_error, worker, queue, after_ids, waiting)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        jobs())
    conn.execute("INSERT INTO deps (after_id, job_id) SELECT after_ids, id FROM jobs WHERE after_ids IS NOT NULL")
    conn.execute("UPDATE jobs SET has_dependents = 1 WHERE id IN (SELECT after_id FROM deps)")
    conn.execute(
        "INSERT INTO runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr)"
        " SELECT id, attempts, worker, started_at, finished_at, exit_code, last_error,"
        " CASE WHEN state = 'completed' THEN CAST('ok' AS BLOB) ELSE x'' END,"
        " CASE WHEN state = 'dead' THEN CAST('Traceback: error' AS BLOB) ELSE x'' END"
        " FROM jobs WHERE state != 'pending'")
    # the engine counts inserts in insert_jobs, not in a trigger: bring its counters up to date
    conn.execute("DELETE FROM queue_counts")
    conn.execute("INSERT INTO queue_counts (k, n) SELECT state || ' ' || queue, count(*) FROM jobs GROUP BY queue, state")
    conn.executemany("INSERT OR IGNORE INTO queue_counts (k, n) VALUES (?, 0)",
                     [(f"{state} q{q}",) for q in range(QUEUES)
                      for state in ("pending", "processing", "completed", "failed", "dead")])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def database(n: int, fresh: bool) -> Path:
    """The n-job database, cached under bench/results/ (rebuilt when the schema version changes)."""
    from core.store import SCHEMA_VERSION

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{n}-schema{SCHEMA_VERSION}.db"
    if fresh or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        generate(tmp, n)
        tmp.rename(path)
    return path


def app_rows(db: str, n: int, empty: str) -> list[Row]:
    """The app at scale (bench/app_probe.py); three placeholder rows while the app does not exist."""
    if importlib.util.find_spec("queuectl_tui.app") is None:
        note = "app not built yet"
        return [Row(f"app start at {n:,} jobs", None, "s", target="< 3 s", note=note),
                Row(f"app refresh at {n:,} jobs", None, "ms", target="< 100 ms", note=note),
                Row(f"app memory at {n:,} jobs", None, "MB", target="< 200 MB", note=note)]
    from app_probe import measure

    return measure(db, n, empty)


# One metrics scrape as `metrics --serve` answers it: the queries and the text, not the start-up.
SCRAPE = """
import sys, time
sys.path.insert(0, {root!r})
from core import Queue
from queuectl_tui.metrics import exposition
with Queue.open({db!r}) as q:
    exposition(q)
    took = []
    for _ in range(20):
        t = time.perf_counter(); exposition(q); took.append(time.perf_counter() - t)
print(sorted(took)[len(took) // 2])
"""


def scrape_row(db: str, n: int) -> Row:
    out = subprocess.run([PYTHON, "-c", SCRAPE.format(root=str(ROOT), db=db)], capture_output=True, text=True,
                         check=True).stdout
    took = float(out) * 1000
    return Row(f"one metrics scrape at {n:,} jobs (median of 20)", took, "ms", "", None, "< 50 ms", took < 50)


def run(quick: bool, fresh: bool = False) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    t0 = time.perf_counter()
    path = database(n, fresh)
    built = time.perf_counter() - t0
    rows: list[Row] = []
    with Scratch() as tmp:
        work = tmp / "jobs.db"
        shutil.copyfile(path, work)  # a copy, so the cached file is never changed by a run
        empty = str(tmp / "empty.db")
        create_db(empty)
        db = str(work)
        wall([QUEUECTL, "--db", db, "status"])  # applies any migration outside the timing
        commands = [("status", ["status"]),
                    ("list --state pending --limit 50", ["list", "--state", "pending", "--limit", "50"]),
                    ("dlq list --limit 50", ["dlq", "list", "--limit", "50"])]
        for label, args in commands:
            base = median_wall([QUEUECTL, "--db", empty, *args], 5) * 1000
            took = median_wall([QUEUECTL, "--db", db, *args], 5) * 1000
            rows.append(Row(f"{label} at {n:,} jobs (median of 5)", took, "ms", f"empty db {base:.0f} ms",
                            took / base, "< 200 ms", took < 200))
        rows.append(scrape_row(db, n))
        size = sum(os.path.getsize(f"{db}{s}") for s in ("", "-wal") if os.path.exists(f"{db}{s}"))
        rows.append(Row(f"database size per job at {n:,} jobs", size / n, "B/job", "", None, "(report)", None,
                        f"{size / 2**20:,.0f} MiB in all; built in {built:.0f} s" if built > 1 else
                        f"{size / 2**20:,.0f} MiB in all (cached file)"))
        rows.extend(app_rows(db, n, empty))
    return rows
