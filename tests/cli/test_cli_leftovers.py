"""Processes that jobs leave running cannot exhaust a worker's file descriptors."""

from __future__ import annotations

import os
import resource
import signal
import subprocess

from tests.conftest import BIN, clean_env
from tests.helpers import configure, wait_until


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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_job_killed_on_timeout_takes_along_the_processes_that_left_its_group(queue, cli, tmp_path):
    """A job that starts a daemon in a session of its own (setsid), then times out: the daemon is
    stopped with it, before the attempt is recorded."""
    daemon = tmp_path / "daemon"
    configure(queue, poll_interval=0.05)
    queue.enqueue(f"setsid sh -c 'echo $$ > {daemon}; exec sleep 300' & sleep 300", id="t", timeout=1,
                  max_retries=0)
    result = cli("worker", "start", "--burst")
    pid = int(daemon.read_text())
    try:
        assert result.code == 0, result.err
        assert queue.job("t").last_error == "timed out after 1s"
        wait_until(lambda: not alive(pid), timeout=5, what="the daemon to be stopped")
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_cancelled_job_takes_along_the_processes_that_left_its_group(queue, cli, spawn_worker, tmp_path):
    daemon = tmp_path / "daemon"
    configure(queue, poll_interval=0.05)
    queue.enqueue(f"setsid sh -c 'echo $$ > {daemon}; exec sleep 300' & sleep 300", id="c")
    spawn_worker()
    wait_until(lambda: daemon.exists() and daemon.read_text().strip(), what="the daemon to start")
    pid = int(daemon.read_text())
    try:
        assert cli("cancel", "c").code == 0
        wait_until(lambda: queue.job("c").state == "dead", what="the cancel")
        wait_until(lambda: not alive(pid), timeout=5, what="the daemon to be stopped")
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
