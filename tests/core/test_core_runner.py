"""The runner and an in-process pool: process groups, output tails, timeouts, kill, stdin."""

from __future__ import annotations

import time

from core.runner import RunningJob
from core.pool import Pool
from tests.helpers import pid_alive, wait_until


def test_success_output_and_environment():
    result = RunningJob("echo out; echo err >&2; echo $QUEUECTL_JOB_ID", None, 1000, {"QUEUECTL_JOB_ID": "j1"}).run()
    assert (result.ok, result.exit_code, result.stdout, result.stderr) == (True, 0, b"out\nj1\n", b"err\n")
    assert result.finished_at >= result.started_at


def test_environment_follows_os_environ(monkeypatch):
    monkeypatch.setenv("QUEUECTL_TEST_VAR", "set later é")
    result = RunningJob("echo $QUEUECTL_TEST_VAR $QUEUECTL_ATTEMPT", None, 1000, {"QUEUECTL_ATTEMPT": "2"}).run()
    assert result.stdout == "set later é 2\n".encode()


def test_a_process_left_behind_writes_on_unseen_and_unharmed(tmp_path):
    import os

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    RunningJob("(sleep 0.1; echo late) & true", None, 100).run()  # the first leftover starts the reader
    time.sleep(0.3)
    before = open_fds()
    # the first job's background process writes after the job ended, more than a pipe holds: none of
    # it reaches the next job's output, and it is neither blocked on a full pipe nor killed by SIGPIPE
    done = tmp_path / "done"
    first = RunningJob(f"(sleep 0.3; head -c 300000 /dev/zero; echo late >&2; touch {done}) & echo first",
                       None, 1000).run()
    second = RunningJob("sleep 0.6; echo second", None, 1000).run()
    assert (first.stdout, first.stderr, second.stdout, second.stderr) == (b"first\n", b"", b"second\n", b"")
    wait_until(lambda: done.exists(), timeout=10)
    wait_until(lambda: open_fds() == before, timeout=10)  # its pipes are closed once it has gone


def test_stdin_is_dev_null():
    result = RunningJob("cat; echo done", 5, 1000).run()
    assert result.ok and result.stdout == b"done\n"


def test_output_tail_and_limit_zero():
    # more than a pipe holds (64 KiB): read while the job runs, the tail kept
    result = RunningJob("head -c 300000 /dev/zero | tr '\\0' a; printf END", None, 10).run()
    assert result.stdout == b"aaaaaaaEND"
    assert RunningJob("echo hi", None, 0).run().stdout == b""


def test_exit_codes_and_signals():
    assert RunningJob("exit 5", None, 100).run().error == "exit code 5"
    assert "command not found" in RunningJob("definitely-not-a-command", None, 100).run().error
    killed = RunningJob("kill -9 $$", None, 100).run()
    assert (killed.exit_code, killed.error) == (None, "killed by SIGKILL")


def test_timeout_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = RunningJob(f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'", 0.5, 100).run()
    assert result.error == "timed out after 0.5s" and time.monotonic() - started < 5
    wait_until(lambda: not pid_alive(int(pidfile.read_text())), timeout=10)


def test_without_pidfds_output_and_timeouts_still_work(monkeypatch):
    import os

    def no_pidfds(pid: int, flags: int = 0) -> int:  # a kernel older than 5.3
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfds)
    result = RunningJob("echo hi; exit 4", None, 100).run()
    assert (result.exit_code, result.stdout) == (4, b"hi\n")
    started = time.monotonic()
    result = RunningJob("trap '' TERM; sleep 30", 0.3, 100).run()  # ignores TERM: KILL after the grace
    assert result.error == "timed out after 0.3s" and time.monotonic() - started < 10


def test_without_posix_spawn_and_pidfds_a_job_runs_through_popen(monkeypatch):
    """As on macOS: no pidfd_open, so SPAWN is off and the shell is started by subprocess.Popen."""
    import core.runner

    monkeypatch.setattr(core.runner, "SPAWN", False)
    result = RunningJob("echo hi; echo err >&2; exit 4", None, 100).run()
    assert (result.exit_code, result.stdout, result.stderr) == (4, b"hi\n", b"err\n")


def test_kill_from_another_thread(tmp_path):
    import threading

    job = RunningJob("sleep 60", None, 100)
    threading.Timer(0.3, job.kill, args=("cancelled",)).start()
    result = job.run()
    assert result.error == "cancelled"
    assert RunningJob("true", None, 100).run().ok


def test_kill_before_start_never_starts(tmp_path):
    job = RunningJob(f"touch {tmp_path}/ran", None, 100)
    job.kill("killed: worker shut down")
    assert job.run().error == "killed: worker shut down"
    assert not (tmp_path / "ran").exists()


def test_in_process_pool_runs_and_kill_releases(queue, tmp_path):
    queue.set_setting("poll-interval", 0.1)
    done = queue.enqueue("echo done")
    pool = Pool(queue, 2).start()
    wait_until(lambda: queue.job(done.id).state == "completed")
    slow = queue.enqueue(f"touch {tmp_path}/go; sleep 60", max_retries=0)
    wait_until(lambda: (tmp_path / "go").exists())
    assert len(queue.workers()) == 2 and pool.busy()
    pool.kill()
    assert pool.join(15)
    job = queue.job(slow.id)
    assert (job.state, job.last_error) == ("dead", "killed: worker shut down")
    assert queue.workers() == []


def test_pool_resize_and_pause(queue):
    queue.set_setting("poll-interval", 0.1)
    pool = Pool(queue, 1).start()
    wait_until(lambda: len(queue.workers()) == 1)
    pool.resize(3)
    wait_until(lambda: len(queue.workers()) == 3)
    pool.resize(1)
    wait_until(lambda: len(queue.workers()) == 1)
    pool.pause()
    job = queue.enqueue("true")
    time.sleep(0.4)
    assert queue.job(job.id).state == "pending"
    pool.pause(False)
    wait_until(lambda: queue.job(job.id).state == "completed")
    pool.stop()
    assert pool.join(10)


def test_on_slow_is_called_once_while_a_slow_job_runs_and_never_for_a_quick_one(tmp_path):
    calls = []

    def note() -> None:
        calls.append((time.monotonic(), (tmp_path / "done").exists()))

    began = time.monotonic()
    result = RunningJob(f"sleep 0.4; echo out; touch {tmp_path}/done", None, 100).run(on_slow=(0.1, note))
    assert result.ok and result.stdout == b"out\n"
    assert len(calls) == 1 and calls[0][1] is False  # once, before the job had ended
    assert calls[0][0] - began >= 0.1
    result = RunningJob("true", 5.0, 100).run(on_slow=(2.0, note))
    assert result.ok and len(calls) == 1
    result = RunningJob("sleep 5", 0.3, 100).run(on_slow=(0.0, note))  # due at once; the timeout still applies
    assert result.error == "timed out after 0.3s" and len(calls) == 2


def test_the_processes_of_one_attempt_of_one_job_are_found_and_stopped(tmp_path):
    import os
    import subprocess

    from core.orphans import job_process_groups, stop_job_processes

    def start(job_id: str, attempt: str, worker: str = "h:1:a:1") -> subprocess.Popen:
        env = {**os.environ, "QUEUECTL_JOB_ID": job_id, "QUEUECTL_ATTEMPT": attempt, "QUEUECTL_WORKER": worker}
        return subprocess.Popen(["sh", "-c", "sleep 30 & wait"], env=env, start_new_session=True)

    target, other_job, other_attempt = start("abc", "2"), start("abcd", "2"), start("abc", "1")
    other_worker = start("abc", "2", "h:1:a:10")
    try:
        wait_until(lambda: job_process_groups("abc", 2, "h:1:a:1") == {target.pid})
        assert stop_job_processes("abc", 2, "h:1:a:1") == {target.pid}
        assert target.wait(5) == -15  # SIGTERM to the group: the shell and its sleep
        assert other_job.poll() is None and other_attempt.poll() is None and other_worker.poll() is None
        assert job_process_groups("abc", 2, "h:1:a:1") == set()
        assert job_process_groups("abc", 1, "h:1:a:1") == {other_attempt.pid}
    finally:
        for proc in (target, other_job, other_attempt, other_worker):
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait()
