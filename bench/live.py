"""Live output's cost (issue 14): 50 jobs that each print a line every 10 ms for 10 s, run at once by
`queuectl worker start --count 50`, on SQLite and on PostgreSQL. Rows: the live-output writes the
database took per second (counted by a trigger on the `live` table, with their bytes), and the CPU
of the worker processes while the jobs ran, beside the same 50 jobs printing nothing (same run).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from common import QUEUECTL, TICK, Row, Scratch, env, proc_stats, stop_group, wait_until

JOBS = 50
CHATTY = ("import sys, time\nend = time.time() + {secs}\n"
          "while time.time() < end:\n    print(\"line\", time.time(), flush=True)\n    time.sleep(0.01)\n")
SILENT = "import time\ntime.sleep({secs})\n"

SQLITE_COUNTER = """
CREATE TABLE bench_writes (bytes INTEGER);
CREATE TRIGGER bench_live_ins AFTER INSERT ON live BEGIN
    INSERT INTO bench_writes VALUES (length(NEW.stdout) + length(NEW.stderr)); END;
CREATE TRIGGER bench_live_upd AFTER UPDATE ON live BEGIN
    INSERT INTO bench_writes VALUES (length(NEW.stdout) + length(NEW.stderr)); END;
"""
PG_COUNTER = [
    "CREATE TABLE bench_writes (bytes BIGINT)",
    "CREATE FUNCTION bench_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO bench_writes VALUES (length(NEW.stdout) + length(NEW.stderr)); RETURN NULL; END $$",
    "CREATE TRIGGER bench_live AFTER INSERT OR UPDATE ON live FOR EACH ROW EXECUTE FUNCTION bench_count()",
]


def add_counter(q) -> None:
    from core.migrations import statements

    if q.location.startswith("postgres"):
        q.store._write(lambda c: [c.execute(s) for s in PG_COUNTER])
    else:
        q.store._write(lambda c: [c.execute(s) for s in statements(SQLITE_COUNTER)])


def session_cpu(session: int) -> float:
    """CPU seconds of the processes in this session still running: the worker processes (their
    jobs run in sessions of their own)."""
    return sum(int(f[11]) + int(f[12]) for _, f in proc_stats() if f[3] == str(session)) / TICK


def measure(db: str, script: str, secs: float) -> tuple[float, int, int, float]:
    """(worker CPU seconds from the enqueue to the last job's end, live writes, their bytes, those
    seconds). The workers are started and idle first: their start-up is not counted."""
    from core import Queue

    with Queue.open(db) as q:
        add_counter(q)
    proc = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start", "--count", str(JOBS)], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with Queue.open(db) as q:
            if not wait_until(lambda: len(q.workers()) == JOBS, 120, 0.1):
                raise RuntimeError(f"{len(q.workers())} of the {JOBS} workers started")
            began, cpu0 = time.monotonic(), session_cpu(proc.pid)
            q.enqueue_many([{"command": f"{sys.executable} -c '{script.format(secs=secs)}'"}] * JOBS)
            if not wait_until(lambda: q.counts()["completed"] == JOBS, 120 + secs, 0.05):
                raise RuntimeError(f"the {JOBS} jobs did not all complete: {q.counts()}")
            took, cpu = time.monotonic() - began, session_cpu(proc.pid) - cpu0
            writes, size = q.store._read(lambda c: c.execute(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM bench_writes").fetchone())
    finally:
        stop_group(proc, signal.SIGTERM, 30)
    return cpu, int(writes), int(size), took


def rows(label: str, db_chatty: str, db_silent: str, secs: float) -> list[Row]:
    cpu, writes, size, took = measure(db_chatty, CHATTY, secs)
    cpu0, _, _, took0 = measure(db_silent, SILENT, secs)
    per_s = writes / took
    return [
        Row(f"{label}: live output of {JOBS} jobs printing every 10 ms, writes/s", per_s, "writes/s",
            f"{JOBS} jobs x 1/s = {JOBS}/s", per_s / JOBS, f"<= {JOBS}/s", per_s <= JOBS * 1.05,
            f"{writes} writes in {took:.1f} s, {size / took / 1024:,.0f} KiB/s ({size / max(writes, 1):,.0f} B a write)"),
        Row(f"{label}: worker CPU, {JOBS} printing jobs (% of one core)", 100 * cpu / took, "%",
            f"{JOBS} silent jobs {100 * cpu0 / took0:.1f} %", cpu / took / max(cpu0 / took0, 1e-9), "(report)", None,
            f"{cpu:.2f} CPU-s over {took:.1f} s, {cpu0:.2f} over {took0:.1f} s silent ({JOBS} worker processes)"),
    ]


def run(quick: bool) -> list[Row]:
    secs = 3.0 if quick else 10.0
    out: list[Row] = []
    with Scratch() as tmp:
        out += rows("SQLite", str(tmp / "chatty.db"), str(tmp / "silent.db"), secs)
    import pg

    server, why = pg.start_server()
    if server is None:
        return out + [Row("PostgreSQL: live output", None, "", note=why or "no server")]
    try:
        out += rows("PostgreSQL", server.url(schema="bench_live_chatty"), server.url(schema="bench_live_silent"), secs)
    finally:
        server.stop()
    return out
