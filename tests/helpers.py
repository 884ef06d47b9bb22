"""Plain helpers shared by tests/core and tests/cli (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

from core import Queue

T = TypeVar("T")

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
JOB_FIELDS = ["id", "command", "state", "attempts", "max_retries", "priority", "run_at", "timeout",
              "created_at", "updated_at", "started_at", "finished_at", "exit_code", "last_error", "worker",
              "queue", "cwd", "env", "after", "waiting_on", "unique_key", "schedule"]
JOB_TIMES = ("run_at", "created_at", "updated_at", "started_at", "finished_at")
STATES = ["pending", "processing", "completed", "failed", "dead"]
SETTING_KEYS = ["max-retries", "backoff-base", "backoff-max", "job-timeout", "poll-interval", "lease-timeout",
                "worker-count", "output-limit", "on-completed", "on-dead", "hook-timeout"]

# Small settings so that retries, leases and polls take fractions of a second.
FAST = {"poll-interval": "0.1", "lease-timeout": "1", "backoff-base": "0"}


def wait_until(predicate: Callable[[], T], timeout: float = 20, interval: float = 0.02, what: str = "") -> T:
    """Poll predicate until it returns something truthy; fail the test after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def configure(queue: Queue, **settings: str | float) -> None:
    for key, value in settings.items():
        queue.set_setting(key.replace("_", "-"), value)


def snapshot(queue: Queue) -> tuple:
    """Everything a command could change, to prove that a rejected command changed nothing."""
    jobs = [queue.job(j.id).to_dict(with_runs=True) for j in queue.jobs(limit=1_000_000)]
    return jobs, queue.store.read_settings()


def read_to_end(fd: int) -> bytes:
    """All a pseudo-terminal's leader side gives until its follower is closed everywhere (Linux then
    reports EIO, other systems end of file)."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def read_pid(path: Path, timeout: float = 20) -> int:
    return int(wait_until(lambda: path.exists() and path.read_text().strip(), timeout, what=f"pid in {path}"))


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, wait; SIGKILL if it does not go. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def run_burst(queue: Queue, workers: int = 1, timeout: float = 60) -> None:
    """Run every due job to its end with an in-process pool (for tests that only need the results)."""
    from core.pool import Pool

    pool = Pool(queue, workers, burst=True).start()
    assert pool.join(timeout), "burst pool did not finish"
    assert not pool.errors


def finish_and_claim(store, job_id: str, worker_id: str, attempt: int, outcome, now: float, lease_until: float):
    """One finish and one claim through Store.record_and_claim, as a worker makes them: (finished, job or None)."""
    from core.store import Ended

    finished, claimed, _ = store.record_and_claim([Ended(job_id, attempt, outcome)], worker_id, now, lease_until)
    return finished[0], claimed[0] if claimed else None
