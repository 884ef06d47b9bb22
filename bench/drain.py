"""Workload 1: drain N `true` jobs with 4 workers, beside the process-spawn floors and the peers."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from common import (PYTHON, QUEUECTL, ROOT, SAME_RUN, Row, Scratch, count_states, env, seed_true_jobs, stop_group,
                    wait_until, wall_and_cpu)

PY_LOOP = """
import subprocess, sys
from multiprocessing import Process
def loop(n):
    for _ in range(n):
        subprocess.run("true", shell=True)
if __name__ == "__main__":
    n = int(sys.argv[1])
    procs = [Process(target=loop, args=(n // 4 + (i < n % 4),)) for i in range(4)]
    for p in procs: p.start()
    for p in procs: p.join()
"""


# The floor the issue names: "a minimal Python claim loop over SQLite that runs `true` per job".
# 4 processes; per job one transaction that records the last job and claims the next (as a
# queuectl worker does), then subprocess.run. No leases, output, retries or logging.
CLAIM_LOOP = """
import sqlite3, subprocess, sys
from multiprocessing import Process
SCHEMA = ("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, command TEXT NOT NULL, state TEXT NOT NULL,"
          " worker INTEGER, exit_code INTEGER);"
          "CREATE INDEX IF NOT EXISTS jobs_pending ON jobs(id) WHERE state = 'pending';")
def connect(db):
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL"); conn.execute("PRAGMA synchronous = NORMAL")
    return conn
CLAIM = ("UPDATE jobs SET state = 'running', worker = ? WHERE id = (SELECT id FROM jobs WHERE state = 'pending'"
         " ORDER BY id LIMIT 1) RETURNING id, command")
def loop(db, me):
    conn, done = connect(db), None
    while True:
        conn.execute("BEGIN IMMEDIATE")
        if done is not None:
            conn.execute("UPDATE jobs SET state = 'done', exit_code = ? WHERE id = ?", done)
        job = conn.execute(CLAIM, (me,)).fetchone()
        conn.execute("COMMIT")
        if job is None:
            return
        done = (subprocess.run(job[1], shell=True).returncode, job[0])
if __name__ == "__main__":
    db, n = sys.argv[1], int(sys.argv[2])
    if sys.argv[3] == "seed":
        conn = connect(db); conn.executescript(SCHEMA)
        conn.execute("BEGIN"); conn.executemany("INSERT INTO jobs (command, state) VALUES ('true', 'pending')", [()] * n)
        conn.execute("COMMIT")
    else:
        procs = [Process(target=loop, args=(db, i)) for i in range(4)]
        for p in procs: p.start()
        for p in procs: p.join()
        left = connect(db).execute("SELECT count(*) FROM jobs WHERE state != 'done'").fetchone()[0]
        sys.exit(1 if left else 0)
"""


class Drain(NamedTuple):
    rate: float  # jobs per second of wall time
    cpu_ms: float  # CPU per job of every process involved (the jobs' included), in ms


def timed(n: int, cmd, shell: bool = False) -> Drain:
    seconds, cpu = wall_and_cpu(cmd, shell=shell)
    return Drain(n / seconds, cpu / n * 1000)


def xargs_floor(n: int) -> Drain:
    return timed(n, f"seq {n} | xargs -P4 -I{{}} sh -c true", shell=True)


def python_floor(n: int) -> Drain:
    return timed(n, [PYTHON, "-c", PY_LOOP, str(n)])


def claim_loop_floor(n: int) -> Drain:
    with Scratch() as tmp:
        db = str(tmp / "floor.db")
        subprocess.run([PYTHON, "-c", CLAIM_LOOP, db, str(n), "seed"], check=True, env=env())
        return timed(n, [PYTHON, "-c", CLAIM_LOOP, db, str(n), "run"])


def queuectl_drain(n: int, db: str | None = None, queues: int = 0, limit: int = 0) -> Drain:
    """`worker start --count 4 --burst` over n `true` jobs, on db (a fresh, empty queue) or on a
    SQLite file in a scratch folder. queues: the jobs spread over that many queues, all of them named
    with --queue; limit: the `default` queue limited to that many at once."""
    with Scratch() as tmp:
        db = db or str(tmp / "jobs.db")
        seed_true_jobs(db, n, queues, limit)
        served = ["--queue", ",".join(f"q{i}" for i in range(queues))] if queues else []
        drained = timed(n, [QUEUECTL, "--db", db, "worker", "start", "--count", "4", "--burst", *served])
        counts = count_states(db)
        if counts["completed"] != n:
            raise RuntimeError(f"queuectl drain finished with {counts}")
        return drained


def tsp_binary() -> str | None:
    """`tsp` on Debian; `ts` elsewhere, unless that is moreutils' timestamp filter."""
    if shutil.which("tsp"):
        return shutil.which("tsp")
    path = shutil.which("ts")
    if path and b"spooler" in subprocess.run([path, "-V"], capture_output=True, stdin=subprocess.DEVNULL,
                                             timeout=5).stdout.lower():
        return path
    return None


def tsp_drain(n: int) -> tuple[float | None, str]:
    """task-spooler: its client is what runs the job, so jobs are enqueued and drained in one go;
    the figure is jobs / (enqueue + drain) wall time."""
    tsp = tsp_binary()
    if tsp is None:
        return None, "task-spooler not installed (apt-get install task-spooler needs root)"
    with Scratch() as tmp:
        extra = {"TS_SOCKET": str(tmp / "ts.sock"), "TMPDIR": str(tmp), "TS_MAXFINISHED": str(n + 10),
                 "TS_SLOTS": "4"}
        e = env(**extra)
        subprocess.run([tsp, "-S", "4"], env=e, check=True, capture_output=True)
        try:
            start = time.perf_counter()
            subprocess.run(f"for i in $(seq {n}); do {tsp} -n true; done >/dev/null", shell=True, env=e, check=True)
            subprocess.run([tsp, "-w"], env=e, capture_output=True)

            def idle() -> bool:
                listing = subprocess.run([tsp, "-l"], env=e, capture_output=True, text=True).stdout
                return not any(w in listing for w in (" running ", " queued "))

            wait_until(idle, 120, 0.01)
            seconds = time.perf_counter() - start
        finally:
            subprocess.run([tsp, "-K"], env=e, capture_output=True)
        return n / seconds, "enqueue + drain, one tsp client per job"


def huey_drain(n: int) -> tuple[Drain | None, str]:
    """huey's consumer over n tasks enqueued beforehand. Its CPU is what the consumer and its worker
    processes used from start to exit (this process's children's rusage, taken around it)."""
    try:
        import huey  # noqa: F401
    except ImportError:
        return None, "huey not installed (pip install -r bench/requirements.txt)"
    consumer = shutil.which("huey_consumer", path=str(Path(sys.executable).parent)) or shutil.which("huey_consumer")
    if consumer is None:
        return None, "huey_consumer not found"
    bench_dir = str(ROOT / "bench")
    with Scratch() as tmp:
        os.environ["BENCH_HUEY_DB"] = str(tmp / "huey.db")  # read by huey_app on import, here and in the consumer
        extra = {"PYTHONPATH": os.pathsep.join(filter(None, [bench_dir, os.environ.get("PYTHONPATH")]))}
        sys.path.insert(0, bench_dir)
        import importlib

        import huey_app

        huey_app = importlib.reload(huey_app)  # bind this run's database
        for _ in range(n):
            huey_app.shell("true")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen([consumer, "huey_app.huey", "-w", "4", "-k", "process", "-q", "-n"],
                                cwd=bench_dir, env=env(**extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            done = wait_until(lambda: huey_app.huey.result_count() >= n, 300, 0.02)
            seconds = time.perf_counter() - start
        finally:
            stop_group(proc, signal.SIGINT, 10)
            huey_app.huey.storage.close() if hasattr(huey_app.huey.storage, "close") else None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not done:
            return None, f"huey finished only {huey_app.huey.result_count()} of {n} jobs in 300 s"
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return Drain(n / seconds, cpu / n * 1000), "SqliteHuey, consumer -w 4 -k process"


ROUNDS = 3  # alternating rounds of every drain but task-spooler's (not a target), medians reported


def size(quick: bool) -> int:
    return 1000 if quick else 5000


def median(drains: list[Drain]) -> Drain:
    return Drain(statistics.median(d.rate for d in drains), statistics.median(d.cpu_ms for d in drains))


def run(quick: bool) -> list[Row]:
    """Each figure is the median of ROUNDS rounds that alternate the floors, queuectl and huey: a
    peer or a floor that happened to run in a quiet or a busy moment of a shared machine does not
    decide a ratio alone."""
    n, rounds = size(quick), 1 if quick else ROUNDS
    samples: dict[str, list[Drain]] = {"xargs": [], "python": [], "loop": [], "ours": [], "huey": [], "limited": [],
                                       "queues": []}
    huey_note = ""
    for _ in range(rounds):
        samples["xargs"].append(xargs_floor(n))
        samples["python"].append(python_floor(n))
        samples["loop"].append(claim_loop_floor(n))
        samples["ours"].append(queuectl_drain(n))
        samples["limited"].append(queuectl_drain(n, limit=4))
        samples["queues"].append(queuectl_drain(n, queues=4))
        huey_round, huey_note = huey_drain(n)
        if huey_round is not None:
            samples["huey"].append(huey_round)
    xargs, pyloop, loop, ours, limited, queues = (median(samples[k]) for k in (
        "xargs", "python", "loop", "ours", "limited", "queues"))
    huey = median(samples["huey"]) if len(samples["huey"]) == rounds else None
    if rounds > 1:
        huey_note = f"{huey_note}; median of {rounds} rounds" if huey else huey_note
    SAME_RUN[("xargs", n)], SAME_RUN[("drain", n)] = xargs, ours
    tsp_rate, tsp_note = tsp_drain(n)
    name = f"drain {n} `true`, worker start --count 4 --burst"
    cpu = f"CPU {ours.cpu_ms:.2f} ms/job" + (f"; medians of {rounds} alternating rounds" if rounds > 1 else "")
    rows = [
        Row(f"floor: xargs -P4 sh -c true ({n} lines of seq)", xargs.rate, "jobs/s",
            note=f"process-spawn floor; CPU {xargs.cpu_ms:.2f} ms/job"),
        Row("floor: 4 Python processes, subprocess.run", pyloop.rate, "jobs/s", note=f"CPU {pyloop.cpu_ms:.2f} ms/job"),
        Row("floor: minimal SQLite claim loop, 4 processes", loop.rate, "jobs/s", f"xargs {xargs.rate:,.0f} jobs/s",
            loop.rate / xargs.rate, "(ratio only)", None,
            f"claim + record in one transaction per job, subprocess.run; CPU {loop.cpu_ms:.2f} ms/job"),
        Row(name, ours.rate, "jobs/s", f"xargs {xargs.rate:,.0f} jobs/s", ours.rate / xargs.rate, ">= 0.75x xargs",
            ours.rate >= 0.75 * xargs.rate, cpu),
        Row(name, ours.rate, "jobs/s", f"Python loop {pyloop.rate:,.0f} jobs/s", ours.rate / pyloop.rate, "(ratio only)"),
        Row(name, ours.rate, "jobs/s", f"claim loop {loop.rate:,.0f} jobs/s", ours.rate / loop.rate, "(ratio only)"),
        Row(f"drain {n} `true`, queue limit 4, 4 workers", limited.rate, "jobs/s", f"no limit {ours.rate:,.0f} jobs/s",
            limited.rate / ours.rate, "(ratio only)", None, f"CPU {limited.cpu_ms:.2f} ms/job; every claim counts"),
        Row(f"drain {n} `true` in 4 queues, worker start --queue q0,q1,q2,q3", queues.rate, "jobs/s",
            f"every queue {ours.rate:,.0f} jobs/s", queues.rate / ours.rate, "(ratio only)", None,
            f"CPU {queues.cpu_ms:.2f} ms/job"),
    ]
    if huey is None:
        rows.append(Row(name, ours.rate, "jobs/s", "huey: skipped", None, ">= 2x huey", None, huey_note))
        rows.append(Row("peer: huey", None, "jobs/s", note=huey_note))
    else:
        rows.append(Row(name, ours.rate, "jobs/s", f"huey {huey.rate:,.0f} jobs/s", ours.rate / huey.rate,
                        ">= 2x huey", ours.rate >= 2 * huey.rate))
        rows.append(Row("peer: huey (SqliteHuey, 4 processes)", huey.rate, "jobs/s", f"xargs {xargs.rate:,.0f} jobs/s",
                        huey.rate / xargs.rate, "(peer)", None, f"{huey_note}; CPU {huey.cpu_ms:.2f} ms/job"))
        # How far the 2x target sits from the floor of a queue that does nothing but claim.
        rows.append(Row("twice huey's rate (the 2x target)", 2 * huey.rate, "jobs/s", f"claim loop {loop.rate:,.0f} jobs/s",
                        2 * huey.rate / loop.rate, "(ratio only)", None,
                        "above 1.00x: the target asks for more than the minimal claim loop of this run did"))
    if tsp_rate is None:
        rows.append(Row("peer: task-spooler tsp -S 4", None, "jobs/s", note=tsp_note))
    else:
        rows.append(Row("peer: task-spooler tsp -S 4", tsp_rate, "jobs/s", f"xargs {xargs.rate:,.0f} jobs/s",
                        tsp_rate / xargs.rate, "(peer)", None, tsp_note))
    return rows
