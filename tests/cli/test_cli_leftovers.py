"""Processes that jobs leave running cannot exhaust a worker's file descriptors."""

from __future__ import annotations

import os
import resource
import signal
import subprocess

from tests.conftest import BIN, clean_env
from tests.helpers import configure


def test_jobs_that_leave_processes_behind_do_not_exhaust_the_workers_descriptors(db, queue, tmp_path):
    """Under `ulimit -n 256`, 150 jobs each leave a `sleep` holding its output pipes, then 20 plain
    jobs follow: every one completes (before, from job 121 on every job failed with 'Too many open
    files')."""
    pids = tmp_path / "pids"
    configure(queue, poll_interval=0.05)
    queue.enqueue_many([{"command": f"sleep 300 & echo $! >> {pids}; echo started", "max_retries": 0}
                        for _ in range(150)] + [{"command": "echo plain", "max_retries": 0} for _ in range(20)])

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    try:
        proc = subprocess.run([str(BIN / "queuectl"), "--db", db, "worker", "start", "--burst"], env=clean_env(),
                              preexec_fn=low_limit, capture_output=True, text=True, timeout=240)
    finally:
        for pid in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert queue.counts()["completed"] == 170, proc.stderr[-2000:]
    assert "Too many open files" not in proc.stderr
