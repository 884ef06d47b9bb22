"""A worker's memory on a job that prints far more than it keeps: peak RSS of `worker start --burst`
running one job that writes 3 x output-limit to stdout and to stderr, against the same worker
running `true` (the floor: the interpreter, the engine, SQLite), per byte of output kept."""

from __future__ import annotations

import json
import signal
import subprocess

from common import QUEUECTL, Row, Scratch, env, stop_group, wait_until

def peak_rss_mib(db: str, command: str, limit: int) -> float:
    """Peak resident memory (VmHWM) of a worker process that ran one job and recorded it, read
    before the worker exits. (os.wait4's rusage would report the largest of its job processes too.)"""
    run = lambda *args: subprocess.run([QUEUECTL, "--db", db, *args], env=env(), check=True,  # noqa: E731
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    run("config", "set", "output-limit", str(limit))
    job_id = run("enqueue", json.dumps({"command": command})).decode().strip()
    worker = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start"], env=env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_until(lambda: json.loads(run("show", job_id, "--json"))["state"] == "completed", 300, 0.2):
            raise RuntimeError("the job did not complete")
        with open(f"/proc/{worker.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    finally:
        stop_group(worker, signal.SIGTERM, 10)


def run(quick: bool) -> list[Row]:
    limit = (8 if quick else 64) << 20
    printed = 3 * limit
    loud = (f"head -c {printed} /dev/zero | tr '\\0' x; head -c {printed} /dev/zero | tr '\\0' y >&2")
    with Scratch() as tmp:
        floor = peak_rss_mib(str(tmp / "floor.db"), "true", limit)
        peak = peak_rss_mib(str(tmp / "loud.db"), loud, limit)
    kept_mib = 2 * limit / (1 << 20)
    ratio = (peak - floor) / kept_mib
    return [Row(f"worker memory, a job printing 3x output-limit ({limit >> 20} MiB) on both streams",
                peak, "MB", reference=f"idle worker {floor:.0f} MB + {kept_mib:.0f} MiB kept", ratio=ratio,
                target="<= 2.5x the output kept", ok=ratio <= 2.5,
                note="ratio: (peak - idle worker) / output kept; PostgreSQL binds the output as one parameter")]
