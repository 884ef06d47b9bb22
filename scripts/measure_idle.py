"""Measure what issue 2 asks: the CPU an idle `worker start --count 4` uses, how fast that idle pool
picks up a new job, and the wall time of `queuectl status` on an empty database.

    .venv/bin/python scripts/measure_idle.py [--idle-seconds 30] [--pickups 20] [--status-runs 30]

Uses the venv's own `queuectl` script (no version-manager shim) and a fresh temp database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
QUEUECTL = str(BIN / "queuectl")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def queuectl(db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUEUECTL, "--db", db, *args], capture_output=True, text=True, check=True)


def measure_status(folder: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system) of each run; CPU time is steadier on a busy machine."""
    import resource

    db = os.path.join(folder, "status.db")
    queuectl(db, "config", "set", "max-retries", "3")  # create it once (status makes none); the figure is for an existing, empty database
    walls, cpus = [], []
    for _ in range(runs):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([QUEUECTL, "--db", db, "status"], stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
    return walls, cpus


def measure_idle(folder: str, seconds: float, pickups: int) -> tuple[float, list[float]]:
    db = os.path.join(folder, "idle.db")
    queuectl(db, "status")
    worker = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start", "--count", "4"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while len(queuectl(db, "worker", "list", "--json").stdout.strip()) < 10:  # '[]' until registered
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            time.sleep(0.05)
        time.sleep(1.0)  # let start-up settle
        before, t0 = cpu_seconds(worker.pid), time.monotonic()
        time.sleep(seconds)
        cpu = (cpu_seconds(worker.pid) - before) / (time.monotonic() - t0)

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from core import Queue

        delays = []
        with Queue.open(db) as q:
            for i in range(pickups):
                time.sleep(0.7)  # idle again between jobs
                job = q.enqueue("true")
                while True:
                    started = q.job(job.id, runs=False).started_at
                    if started is not None:
                        break
                    time.sleep(0.001)
                delays.append(started - job.created_at)
        return cpu, delays
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--pickups", type=int, default=20)
    parser.add_argument("--status-runs", type=int, default=30)
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        status, cpu_times = measure_status(folder, args.status_runs)
        print(f"queuectl status, empty db: wall median {statistics.median(status) * 1000:.1f} ms, "
              f"min {min(status) * 1000:.1f} ms; CPU median {statistics.median(cpu_times) * 1000:.1f} ms "
              f"over {len(status)} runs")
        if args.skip_idle:
            return
        cpu, delays = measure_idle(folder, args.idle_seconds, args.pickups)
        print(f"idle worker start --count 4: {cpu * 100:.2f}% of one core over {args.idle_seconds:g} s")
        print(f"pickup of a new job by the idle pool: median {statistics.median(delays) * 1000:.1f} ms, "
              f"max {max(delays) * 1000:.1f} ms over {len(delays)} jobs")


if __name__ == "__main__":
    main()
