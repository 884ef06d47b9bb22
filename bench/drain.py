"""Workload 1: drain N `true` jobs with 4 workers, beside the process-spawn floors and the peers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import (PYTHON, QUEUECTL, ROOT, SAME_RUN, Row, Scratch, count_states, env, seed_true_jobs, stop_group,
                    wait_until, wall)

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


def xargs_floor(n: int) -> float:
    return n / wall(f"seq {n} | xargs -P4 -I{{}} sh -c true", shell=True)


def python_floor(n: int) -> float:
    return n / wall([PYTHON, "-c", PY_LOOP, str(n)])


def queuectl_drain(n: int, db: str | None = None) -> float:
    """Jobs per second of `worker start --count 4 --burst` over n `true` jobs, on db (a fresh,
    empty queue) or on a SQLite file in a scratch folder."""
    with Scratch() as tmp:
        db = db or str(tmp / "jobs.db")
        seed_true_jobs(db, n)
        seconds = wall([QUEUECTL, "--db", db, "worker", "start", "--count", "4", "--burst"])
        counts = count_states(db)
        if counts["completed"] != n:
            raise RuntimeError(f"queuectl drain finished with {counts}")
        return n / seconds


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


def huey_drain(n: int) -> tuple[float | None, str]:
    try:
        import huey  # noqa: F401
    except ImportError:
        return None, "huey not installed (pip install -r bench/requirements.txt)"
    consumer = shutil.which("huey_consumer", path=str(Path(sys.executable).parent)) or shutil.which("huey_consumer")
    if consumer is None:
        return None, "huey_consumer not found"
    bench_dir = str(ROOT / "bench")
    with Scratch() as tmp:
        extra = {"BENCH_HUEY_DB": str(tmp / "huey.db"), "PYTHONPATH": bench_dir}
        os.environ.update(extra)
        sys.path.insert(0, bench_dir)
        import importlib

        import huey_app

        huey_app = importlib.reload(huey_app)  # bind this run's database
        for _ in range(n):
            huey_app.shell("true")
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
        if not done:
            return None, f"huey finished only {huey_app.huey.result_count()} of {n} jobs in 300 s"
        return n / seconds, "SqliteHuey, consumer -w 4 -k process"


def size(quick: bool) -> int:
    return 1000 if quick else 5000


def run(quick: bool) -> list[Row]:
    n = size(quick)
    xargs = xargs_floor(n)
    pyloop = python_floor(n)
    ours = queuectl_drain(n)
    SAME_RUN[("xargs", n)], SAME_RUN[("drain", n)] = xargs, ours
    huey_rate, huey_note = huey_drain(n)
    tsp_rate, tsp_note = tsp_drain(n)
    name = f"drain {n} `true`, worker start --count 4 --burst"
    rows = [
        Row(f"floor: xargs -P4 sh -c true ({n} lines of seq)", xargs, "jobs/s", note="process-spawn floor"),
        Row("floor: 4 Python processes, subprocess.run", pyloop, "jobs/s"),
        Row(name, ours, "jobs/s", f"xargs {xargs:,.0f} jobs/s", ours / xargs, ">= 0.75x xargs", ours >= 0.75 * xargs),
        Row(name, ours, "jobs/s", f"Python loop {pyloop:,.0f} jobs/s", ours / pyloop, "(ratio only)"),
    ]
    if huey_rate is None:
        rows.append(Row(name, ours, "jobs/s", "huey: skipped", None, ">= 2x huey", None, huey_note))
        rows.append(Row("peer: huey", None, "jobs/s", note=huey_note))
    else:
        rows.append(Row(name, ours, "jobs/s", f"huey {huey_rate:,.0f} jobs/s", ours / huey_rate, ">= 2x huey",
                        ours >= 2 * huey_rate))
        rows.append(Row("peer: huey (SqliteHuey, 4 processes)", huey_rate, "jobs/s", f"xargs {xargs:,.0f} jobs/s",
                        huey_rate / xargs, "(peer)", None, huey_note))
    if tsp_rate is None:
        rows.append(Row("peer: task-spooler tsp -S 4", None, "jobs/s", note=tsp_note))
    else:
        rows.append(Row("peer: task-spooler tsp -S 4", tsp_rate, "jobs/s", f"xargs {xargs:,.0f} jobs/s",
                        tsp_rate / xargs, "(peer)", None, tsp_note))
    return rows
