"""Pickup latency of an idle, running pool of 4 (default settings), and what that idle pool costs."""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import time
from typing import Callable

from common import QUEUECTL, SAME_RUN, TICK, Row, Scratch, env, percentile, proc_stats, stop_group, wait_until


def cpu_seconds(session: int) -> float:
    """User + system CPU time of every process in a session (threads included): the pool, and its
    worker processes if it has any. Jobs run in sessions of their own and are not counted."""
    ticks = sum(int(f[11]) + int(f[12]) for _, f in proc_stats() if int(f[3]) == session)
    return ticks / TICK


def measure(db: str, samples_n: int, idle_seconds: float, other_cpu: Callable[[], float] = lambda: 0.0
            ) -> tuple[list[float], float, float, float, float]:
    """Pickup latencies (ms) of a `worker start --count 4` pool on db, then its idle CPU:
    (samples, % of one core, CPU-seconds used, poll interval in s, CPU-seconds that other_cpu()
    counted over the same idle window: a database server's, say)."""
    from core import Queue

    q = Queue.open(db)
    poll = q.settings().poll_interval
    pool = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start", "--count", "4"], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if not wait_until(lambda: len(q.workers()) >= 4, 30):
            raise RuntimeError("the pool did not start")
        time.sleep(1.0)
        samples = []
        for _ in range(samples_n):
            time.sleep(random.uniform(0.1, 0.4))  # the pool is idle, asleep in its poll wait
            t0 = time.time()
            job_id = q.enqueue_many([{"command": "true"}])[0]
            started: list[float] = []

            def picked() -> bool:
                job = q.store.get_job(job_id)
                if job is not None and job.started_at is not None:
                    started.append(job.started_at)
                    return True
                return False

            if not wait_until(picked, 10, 0.002):
                raise RuntimeError("a job was not picked up within 10 s")
            samples.append((started[0] - t0) * 1000)
            wait_until(lambda: q.store.get_job(job_id).state == "completed", 10, 0.005)
        time.sleep(2.0)
        before, other_before, t_before = cpu_seconds(pool.pid), other_cpu(), time.monotonic()
        time.sleep(idle_seconds)
        used, other_used = cpu_seconds(pool.pid) - before, other_cpu() - other_before
        cpu = used / (time.monotonic() - t_before) * 100
    finally:
        stop_group(pool, signal.SIGTERM, 20)
        q.close()
    return samples, cpu, used, poll, other_used


def sizes(quick: bool) -> tuple[int, float]:
    return (20, 10.0) if quick else (50, 60.0)


def run(quick: bool) -> list[Row]:
    samples_n, idle_seconds = sizes(quick)
    with Scratch() as tmp:
        samples, cpu, used, poll, _ = measure(str(tmp / "jobs.db"), samples_n, idle_seconds)
    median, p95 = statistics.median(samples), percentile(samples, 95)
    SAME_RUN[("latency", quick)] = (median, p95, cpu)
    ref = f"poll-interval {poll * 1000:.0f} ms"
    return [
        Row(f"pickup latency, idle pool of 4 (median of {samples_n})", median, "ms", ref, median / (poll * 1000),
            "< 25 ms", median < 25),
        Row(f"pickup latency, idle pool of 4 (p95 of {samples_n})", p95, "ms", ref, p95 / (poll * 1000),
            "< 60 ms", p95 < 60),
        Row(f"idle pool of 4: CPU ({idle_seconds:.0f} s, % of one core)", cpu, "%", "", None, "< 2 %", cpu < 2,
            f"{used * 60 / idle_seconds:.2f} CPU-s per minute"),
    ]
