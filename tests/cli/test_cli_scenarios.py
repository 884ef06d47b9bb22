"""The scenarios every user of a job queue checks first, run with real `queuectl` processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import BIN, clean_env
from tests.helpers import FAST, configure, kill_quietly, lines, pid_alive, read_pid, wait_until

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def enqueue(cli, **job) -> str:
    result = cli("enqueue", json.dumps(job))
    assert result.code == 0, result.err
    return result.out.strip()


def iso_seconds(text: str) -> float:
    from core.clock import parse_iso

    return parse_iso(text)


def test_basic_job_completes(cli):
    job_id = enqueue(cli, command="echo hello; echo oops >&2", id="basic")
    assert job_id == "basic"
    assert cli("show", "basic", "--json").json()["state"] == "pending"
    assert cli("worker", "start", "--count", "1", "--burst").code == 0
    job = cli("show", "basic", "--json").json()
    assert job["state"] == "completed"
    assert (job["attempts"], job["exit_code"], job["last_error"]) == (1, 0, None)
    (run,) = job["runs"]
    assert (run["exit_code"], run["error"], run["stdout"], run["stderr"]) == (0, None, "hello\n", "oops\n")
    assert run["duration"] >= 0 and run["started_at"] <= run["finished_at"]


def test_failing_job_backs_off_then_goes_to_dlq(cli, queue):
    # delays: 1.5 ** 1 = 1.5, then 1.5 ** 2 = 2.25 capped to 2, then 1.5 ** 3 capped to 2
    configure(queue, poll_interval=0.1, backoff_base=1.5, backoff_max=2)
    job_id = enqueue(cli, command="echo attempt $QUEUECTL_ATTEMPT; exit 3", max_retries=3)
    assert cli("worker", "start", "--count", "2", "--burst", timeout=60).code == 0

    job = cli("show", job_id, "--json").json()
    assert (job["state"], job["attempts"], job["exit_code"], job["last_error"]) == ("dead", 4, 3, "exit code 3")
    runs = job["runs"]
    assert [r["attempt"] for r in runs] == [1, 2, 3, 4]
    assert [r["stdout"] for r in runs] == [f"attempt {n}\n" for n in (1, 2, 3, 4)]
    assert all(r["exit_code"] == 3 for r in runs)
    expected = [1.5, 2.0, 2.0]
    for a, delay in enumerate(expected):
        before, after = runs[a], runs[a + 1]
        waited = iso_seconds(after["started_at"]) - iso_seconds(before["finished_at"])
        assert delay - 0.05 <= waited <= delay + 1.5, (a + 1, waited)  # slack for a loaded machine
        start_gap = iso_seconds(after["started_at"]) - iso_seconds(before["started_at"])
        assert start_gap >= delay - 0.05
    dead = cli("dlq", "list", "--json").json()
    assert [j["id"] for j in dead] == [job_id]


def test_workers_in_several_processes_run_each_job_exactly_once(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    marker = tmp_path / "marker"
    total = 150
    jobs = "".join(json.dumps({"id": f"j{i}", "command": f"echo j{i} >> {marker}"}) + "\n" for i in range(total))
    assert cli("enqueue", "-", input=jobs).code == 0
    workers = [spawn_worker(count=3, burst=True) for _ in range(3)]
    for w in workers:
        assert w.wait(120) == 0, w.output()
    done = lines(marker)
    assert sorted(done) == sorted(f"j{i}" for i in range(total))  # every id exactly once
    assert queue.counts()["completed"] == total
    assert all(job.attempts == 1 for job in queue.jobs(limit=total))
    runners = {queue.job(f"j{i}").runs[0].worker.rsplit(":", 2)[0] for i in range(total)}
    assert len(runners) >= 2, "expected more than one worker process to take part"


def test_workers_of_overlapping_queues_run_each_job_exactly_once(cli, queue, spawn_worker, tmp_path):
    """Processes serving a,b / b,c / a,c: each claim seeks every queue it serves (on PostgreSQL,
    locking each queue's first job) and takes one; no job runs twice, none is left, and a queue
    served by no one keeps its jobs."""
    configure(queue, poll_interval=0.1)
    marker = tmp_path / "marker"
    total = 150
    jobs = "".join(json.dumps({"id": f"j{i}", "command": f"echo j{i} >> {marker}", "queue": "abc"[i % 3],
                               "priority": i % 4}) + "\n" for i in range(total))
    assert cli("enqueue", "-", input=jobs + json.dumps({"id": "d", "command": "true", "queue": "d"})).code == 0
    workers = [spawn_worker(count=2, burst=True, extra=("--queue", served)) for served in ("a,b", "b,c", "a,c")]
    for w in workers:
        assert w.wait(120) == 0, w.output()
    assert sorted(lines(marker)) == sorted(f"j{i}" for i in range(total))  # every id exactly once
    assert queue.counts()["completed"] == total and queue.job("d").state == "pending"
    assert all(job.attempts == 1 for job in queue.jobs("completed", limit=total))


@pytest.mark.parametrize("count", [1, 3])  # one worker thread in the command's process, or 3 processes
def test_worker_start_prints_one_line_per_finished_attempt(cli, queue, count):
    import re

    configure(queue, poll_interval=0.1, backoff_base=1.1)
    for job_id, command, retries in (("ok", "true", 0), ("flaky", "exit 3", 1), ("also", "true", 0)):
        queue.enqueue(command, id=job_id, max_retries=retries)
    result = cli("worker", "start", "--count", str(count), "--burst")
    assert result.code == 0, result.err
    head, *rest = result.err.splitlines()
    assert head.startswith(f"{count} worker(s) on ")
    rest = [line for line in rest if not line.startswith("waiting for job flaky due at ")]  # its retry's wait
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    said = sorted(line[len("2026-01-01 00:00:00,000 "):] for line in rest if re.match(stamp, line))
    assert len(said) == len(rest) == 4, result.err
    failures = [s for s in said if " completed in " not in s]
    assert failures == ["job flaky dead (attempt 2): exit code 3", "job flaky failed (attempt 1): exit code 3"]
    completed = [re.fullmatch(r"job (\S+) completed in \d+\.\d{3}s \(attempt 1\)", s) for s in said if s not in failures]
    assert [m[1] for m in completed if m] == ["also", "ok"]


def test_invalid_command_fails_gracefully_and_the_worker_lives_on(cli, queue, spawn_worker, tmp_path):
    configure(queue, **FAST)
    worker = spawn_worker(count=1)
    bad = enqueue(cli, command="no-such-command-xyz --flag", max_retries=0)
    wait_until(lambda: queue.job(bad).state == "dead", what="the bad job to die")
    job = cli("show", bad, "--json").json()
    assert job["exit_code"] == 127 and "command not found" in job["last_error"]
    assert "not found" in job["runs"][0]["stderr"]
    unreadable = enqueue(cli, command=str(tmp_path), max_retries=0)  # a folder: not executable
    wait_until(lambda: queue.job(unreadable).state == "dead")
    assert queue.job(unreadable).exit_code == 126
    good = enqueue(cli, command="echo still here")
    wait_until(lambda: queue.job(good).state == "completed", what="the good job")
    assert worker.proc.poll() is None, worker.output()
    assert "Traceback" not in worker.output()


def test_data_survives_a_restart(cli, spawn_worker, tmp_path):
    assert cli("config", "set", "max-retries", "7").code == 0
    first = enqueue(cli, command="echo one", id="one", priority=3)
    assert cli("worker", "start", "--burst").code == 0
    later = enqueue(cli, command="echo two", id="two", delay=0)
    # A new process sees everything the earlier ones wrote.
    listing = {j["id"]: j for j in cli("list", "--json").json()}
    assert listing[first]["state"] == "completed" and listing[later]["state"] == "pending"
    assert listing[later]["max_retries"] == 7
    assert cli("config", "get", "max-retries").out.strip() == "7"
    assert cli("logs", first).out == "one\n"
    assert cli("worker", "start", "--burst").code == 0
    assert cli("show", later, "--json").json()["state"] == "completed"
    assert cli("show", first, "--json").json()["runs"][0]["stdout"] == "one\n"


# --- crashes, leases and stops ------------------------------------------------------------------


def test_sigkill_of_a_worker_mid_job_is_recovered_after_the_lease(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1, lease_timeout=1, backoff_base=0.2)
    marker, flag, pidfile = tmp_path / "marker", tmp_path / "flag", tmp_path / "pid"
    # The first attempt hangs (its worker will die); later attempts finish at once.
    command = (f"echo run >> {marker}; if [ ! -e {flag} ]; then touch {flag}; "
               f"sleep 60 & echo $! > {pidfile}; wait; fi")
    job_id = enqueue(cli, command=command, max_retries=2)
    doomed = spawn_worker(count=1)
    orphan = read_pid(pidfile)
    try:
        assert queue.job(job_id).state == "processing"
        doomed.proc.send_signal(signal.SIGKILL)
        assert doomed.wait() == -signal.SIGKILL
        lease_seen = queue.job(job_id).lease_until  # the last lease its heartbeat wrote
        assert queue.job(job_id).state == "processing"  # nobody takes it back while the lease holds
        rescuer = spawn_worker(count=1)
        wait_until(lambda: queue.job(job_id).state == "completed", timeout=30, what="recovery")
        # what the dead worker's job left running was stopped when the job was taken back
        wait_until(lambda: not pid_alive(orphan), timeout=10, what="the orphan to be stopped")
    finally:
        kill_quietly(orphan)
    job = queue.job(job_id)
    assert job.attempts == 2 and len(job.runs) == 2
    lost, retried = job.runs
    assert "lease expired" in lost.error and lost.exit_code is None
    assert lost.finished_at >= lease_seen, "taken back before its lease ran out"
    assert retried.error is None and retried.worker.startswith(rescuer_prefix(rescuer.pid))
    assert lines(marker) == ["run", "run"]


def test_a_sigkilled_worker_on_this_host_is_gone_at_once(cli, queue, spawn_worker):
    """Its heartbeat still looks fresh (lease-timeout 30 s), but its process is gone: `worker list`
    drops it and `worker stop` does not wait for it."""
    worker = spawn_worker(count=1)
    wait_until(lambda: len(cli("worker", "list", "--json").json()) == 1, what="the worker to register")
    worker.proc.send_signal(signal.SIGKILL)
    assert worker.wait() == -signal.SIGKILL
    assert cli("worker", "list", "--json").json() == []
    started = time.monotonic()
    stop = cli("worker", "stop", "--timeout", "20")
    assert (stop.code, stop.err) == (0, "no live workers\n") and time.monotonic() - started < 10
    assert queue.store.list_workers(time.time() - 30), "its row is still there: only the listing looks further"


def rescuer_prefix(pid: int) -> str:
    import socket

    return f"{socket.gethostname()}:{pid}:"


def test_dead_worker_job_with_no_retries_left_goes_dead_not_stuck(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1, lease_timeout=1)
    pidfile = tmp_path / "pid"
    job_id = enqueue(cli, command=f"sleep 60 & echo $! > {pidfile}; wait", max_retries=0)
    doomed = spawn_worker()
    orphan = read_pid(pidfile)
    try:
        doomed.proc.kill()
        doomed.wait()
        spawn_worker()
        wait_until(lambda: queue.job(job_id).state == "dead", timeout=30)
        wait_until(lambda: not pid_alive(orphan), timeout=10, what="the orphan to be stopped")
    finally:
        kill_quietly(orphan)
    assert "lease expired" in queue.job(job_id).last_error


def test_live_job_longer_than_the_lease_runs_once(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1, lease_timeout=1, backoff_base=0)
    marker = tmp_path / "marker"
    job_id = enqueue(cli, command=f"echo start >> {marker}; sleep 3.5; echo end >> {marker}", max_retries=3)
    workers = [spawn_worker(count=2) for _ in range(2)]
    wait_until(lambda: queue.job(job_id).state == "completed", timeout=30)
    job = queue.job(job_id)
    assert (job.attempts, len(job.runs)) == (1, 1)
    assert lines(marker) == ["start", "end"]
    for w in workers:
        assert w.proc.poll() is None


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "worker stop"])
def test_graceful_stop_lets_the_running_job_finish(how, cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    marker = tmp_path / "marker"
    running = enqueue(cli, command=f"echo started >> {marker}; sleep 1.5; echo finished >> {marker}", priority=9)
    worker = spawn_worker(count=1)
    wait_until(lambda: lines(marker) == ["started"], what="the job to start")
    waiting = enqueue(cli, command="echo should not run")
    if how == "worker stop":
        stopper = cli("worker", "stop", "--timeout", "30")
        assert stopper.code == 0, stopper.err
        # it returns once the worker has left the workers table: after its job finished and was
        # recorded (its process exits a moment later: not checked here, that would be a race)
        assert lines(marker) == ["started", "finished"] and queue.job(running).state == "completed"
    else:
        worker.proc.send_signal(getattr(signal, how))
    assert worker.wait(30) == 0, worker.output()
    assert lines(marker) == ["started", "finished"]
    assert queue.job(running).state == "completed"
    assert queue.job(waiting).state == "pending"  # stopped claiming
    assert queue.workers() == []
    assert "Traceback" not in worker.output()


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_to_the_whole_process_group_stops_the_workers_as_one_sigterm_does(sig, count, cli, queue, tmp_path):
    """SIGHUP to the whole process group, after the terminal went away (an ssh session dropped, a
    tmux session killed): running jobs finish and are recorded, as on SIGTERM. Left to SIGHUP's
    default, every worker died at once and its jobs ran on unwatched, to run again after the lease.
    SIGTERM to the group (systemd's stop, `timeout`, `kill -- -PGID`) reaches each worker process
    twice, from its sender and from `worker start`: still one stop, never a kill."""
    import os
    import pty

    configure(queue, poll_interval=0.1)
    marker = tmp_path / "marker"
    ids = [enqueue(cli, command=f"echo started >> {marker}; sleep 1.5; echo finished >> {marker}")
           for _ in range(count)]
    leader, follower = pty.openpty()
    worker = subprocess.Popen([str(BIN / "queuectl"), "--db", queue.location, "worker", "start", "--count", str(count)],
                              stdin=follower, stdout=follower, stderr=follower, env=clean_env(), start_new_session=True)
    os.close(follower)
    try:
        wait_until(lambda: lines(marker).count("started") == count, what="the jobs to start")
        os.close(leader)  # the terminal is gone: what the workers print now fails
        leader = -1
        os.killpg(worker.pid, sig)
        assert worker.wait(30) == 0
    finally:
        if leader != -1:
            os.close(leader)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert lines(marker).count("finished") == count
    assert [(queue.job(i).state, queue.job(i).attempts) for i in ids] == [("completed", 1)] * count
    assert queue.workers() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_second_signal_kills_running_jobs_and_releases_them(sig, cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    pids = tmp_path / "pids"
    job_id = enqueue(cli, command=f"echo $$ >> {pids}; sleep 60 & echo $! >> {pids}; wait", max_retries=1)
    worker = spawn_worker(count=1)
    wait_until(lambda: len(lines(pids)) == 2)
    shell, grandchild = map(int, lines(pids))
    worker.proc.send_signal(sig)
    time.sleep(0.3)  # the first signal only stops claiming; the job keeps running
    assert pid_alive(grandchild) and queue.job(job_id).state == "processing"
    worker.proc.send_signal(sig)
    try:
        assert worker.wait(30) == 0, worker.output()
    finally:
        kill_quietly(grandchild)
    job = queue.job(job_id)
    assert (job.state, job.attempts) == ("failed", 1)  # a failed attempt, retried later (1 retry left)
    assert job.last_error == "killed: worker shut down"
    assert job.runs[0].error == "killed: worker shut down"
    wait_until(lambda: not pid_alive(shell) and not pid_alive(grandchild), what="the job's processes to die")


def test_timeout_kills_grandchildren(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    pidfile = tmp_path / "pid"
    job_id = enqueue(cli, command=f"sh -c 'sleep 100 & echo $! > {pidfile}; wait'", timeout=1, max_retries=0)
    started = time.monotonic()
    assert cli("worker", "start", "--burst").code == 0
    assert time.monotonic() - started < 15
    grandchild = read_pid(pidfile)
    try:
        wait_until(lambda: not pid_alive(grandchild), timeout=10, what="the grandchild to die")
    finally:
        kill_quietly(grandchild)
    job = queue.job(job_id)
    assert (job.state, job.last_error) == ("dead", "timed out after 1s")
    assert 0.9 <= job.runs[0].duration < 5


def test_config_job_timeout_applies_and_trap_resistant_jobs_are_killed(cli, queue, tmp_path):
    configure(queue, poll_interval=0.1, job_timeout=0.5)
    job_id = enqueue(cli, command="trap '' TERM; sleep 30", max_retries=0)
    assert cli("worker", "start", "--burst").code == 0
    job = queue.job(job_id)
    assert job.last_error == "timed out after 0.5s"
    assert job.runs[0].duration < 10  # TERM was ignored, so KILL followed


def test_running_workers_pick_up_a_config_change(cli, queue, spawn_worker):
    configure(queue, poll_interval=0.1)
    spawn_worker()
    wait_until(lambda: len(queue.workers()) == 1)
    assert cli("config", "set", "job-timeout", "0.5").code == 0
    job_id = enqueue(cli, command="sleep 30", max_retries=0)
    wait_until(lambda: queue.job(job_id).state == "dead", timeout=15)
    assert queue.job(job_id).last_error == "timed out after 0.5s"


def test_priority_order_then_enqueue_order(cli, queue, tmp_path):
    marker = tmp_path / "marker"
    rows = [("low", -5), ("a", 0), ("high", 10), ("b", 0), ("mid", 5), ("c", 0), ("top", 10)]
    jobs = "".join(json.dumps({"id": i, "priority": p, "command": f"echo {i} >> {marker}"}) + "\n" for i, p in rows)
    assert cli("enqueue", "-", input=jobs).code == 0
    assert cli("worker", "start", "--count", "1", "--burst").code == 0
    assert lines(marker) == ["high", "top", "mid", "a", "b", "c", "low"]


def test_delay_and_run_at(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    from core.clock import to_iso

    # Delays long enough that the other jobs finish first even on a loaded machine (each PostgreSQL
    # enqueue spends ~0.3 s importing the driver; the workers take a while to start).
    delayed = enqueue(cli, command="true", delay=5, priority=100)
    scheduled = enqueue(cli, command="true", run_at=to_iso(time.time() + 6.0), priority=100)
    past = enqueue(cli, command="true", run_at="2001-01-01T00:00:00+02:00")
    now = enqueue(cli, command="true")
    spawn_worker(count=2)
    wait_until(lambda: queue.job(past).state == queue.job(now).state == "completed", timeout=10)
    assert queue.job(delayed).state == "pending" and queue.job(scheduled).state == "pending"
    wait_until(lambda: all(queue.job(j).state == "completed" for j in (delayed, scheduled)), timeout=15)
    d, s = queue.job(delayed), queue.job(scheduled)
    assert d.started_at >= d.created_at + 5
    assert s.started_at >= s.run_at and s.started_at < s.run_at + 3
    assert cli("show", past, "--json").json()["run_at"] == "2000-12-31T22:00:00.000Z"


def test_cancel_pending_and_running(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    pending = enqueue(cli, command="echo never", delay=3600)
    result = cli("cancel", pending)
    assert result.code == 0 and result.err == ""
    job = queue.job(pending)
    assert (job.state, job.last_error, job.attempts, job.runs) == ("dead", "cancelled", 0, ())

    pids = tmp_path / "pids"
    running = enqueue(cli, command=f"echo $$ >> {pids}; sleep 60 & echo $! >> {pids}; wait", max_retries=3)
    spawn_worker()
    wait_until(lambda: len(lines(pids)) == 2)
    shell, grandchild = map(int, lines(pids))
    try:
        result = cli("cancel", running)
        assert result.code == 0, result.err
        wait_until(lambda: queue.job(running).state == "dead", timeout=10)
        wait_until(lambda: not pid_alive(shell) and not pid_alive(grandchild), timeout=10)
    finally:
        kill_quietly(grandchild)
    job = queue.job(running)
    assert (job.last_error, job.attempts) == ("cancelled", 1)
    assert job.runs[0].error == "cancelled"
    again = cli("cancel", running)
    assert again.code == 1 and again.err.startswith("error: ") and "dead" in again.err
    assert cli("cancel", "no-such-job").code == 1


def test_cancel_of_a_failed_job_awaiting_retry(cli, queue, spawn_worker):
    configure(queue, poll_interval=0.1, backoff_base=1000)
    job_id = enqueue(cli, command="exit 1", max_retries=2)
    spawn_worker()
    wait_until(lambda: queue.job(job_id).state == "failed")
    assert cli("cancel", job_id).code == 0
    job = queue.job(job_id)
    assert (job.state, job.last_error, job.attempts, len(job.runs)) == ("dead", "cancelled", 1, 1)


def test_dlq_retry_one_and_all(cli, queue):
    configure(queue, poll_interval=0.1)
    ids = [enqueue(cli, command="exit 1", id=f"d{i}", max_retries=0) for i in range(3)]
    ok = enqueue(cli, command="true", id="ok")
    assert cli("worker", "start", "--burst").code == 0
    assert sorted(j["id"] for j in cli("dlq", "list", "--json").json()) == ids
    snapshot_state = queue.job("d0").to_dict()
    # Not dead: exit 1, and nothing changes (not even d0 named alongside it).
    result = cli("dlq", "retry", "d0", "ok")
    assert result.code == 1 and "ok" in result.err and queue.job("d0").to_dict() == snapshot_state
    assert cli("dlq", "retry", "d0", "missing").code == 1 and queue.job("d0").state == "dead"

    assert cli("dlq", "retry", "d0").code == 0
    job = queue.job("d0")
    assert (job.state, job.attempts) == ("pending", 0)
    assert sorted(j["id"] for j in cli("dlq", "list", "--json").json()) == ["d1", "d2"]
    result = cli("dlq", "retry", "--all")
    assert result.code == 0 and "2" in result.out
    assert queue.counts()["dead"] == 0 and queue.counts()["pending"] == 3
    assert cli("worker", "start", "--burst").code == 0
    job = queue.job("d1")
    assert (job.state, job.attempts, len(job.runs)) == ("dead", 1, 2)  # one attempt allowed again
    assert [r.attempt for r in job.runs] == [1, 1]
    assert queue.job(ok).state == "completed"


def test_concurrent_enqueuers_while_workers_run(cli, queue, spawn_worker, tmp_path, db):
    configure(queue, poll_interval=0.1)
    workers = [spawn_worker(count=2) for _ in range(2)]
    per_api, per_bulk = 150, 200
    api_script = (
        "import sys\nfrom core import Queue\nq = Queue.open(sys.argv[1])\n"
        f"for i in range({per_api}): q.enqueue('true', id=f'{{sys.argv[2]}}-{{i}}')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", api_script, db, f"api{n}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=clean_env()) for n in range(3)]
    for n in range(2):
        bulk = "".join(json.dumps({"command": "true", "id": f"bulk{n}-{i}"}) + "\n" for i in range(per_bulk))
        procs.append(subprocess.Popen([str(BIN / "queuectl"), "--db", db, "enqueue", "-"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()))
        procs[-1].stdin.write(bulk)
        procs[-1].stdin.close()
    singles = [cli("enqueue", json.dumps({"command": "true", "id": f"cli-{i}"})) for i in range(5)]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
        assert "locked" not in p.stderr.read()
    assert all(r.code == 0 for r in singles), [r.err for r in singles]
    total = 3 * per_api + 2 * per_bulk + 5
    wait_until(lambda: queue.counts()["completed"] == total, timeout=120, interval=0.2)
    for w in workers:
        assert w.proc.poll() is None
        assert "locked" not in w.output() and "Traceback" not in w.output()


def _finish_when_cancel_requested(queue, job, state: str) -> None:
    from core.store import Outcome

    wait_until(lambda: queue.store.cancel_requested([job.id]), what="the cancel request")
    now = time.time()
    outcome = Outcome(state, now + 3600 if state == "failed" else None, 0 if state == "completed" else 1,
                      None if state == "completed" else "exit code 1", job.started_at, now)
    assert queue.store.finish(job.id, "w-test", job.attempts, outcome)


@pytest.mark.parametrize("ends", ["completed", "failed"])
def test_cancel_racing_with_the_job_ending_on_its_own(ends, cli, queue):
    """The job ends before its worker sees the cancel: completed is not reported as cancelled, and a job
    that failed into a retry is cancelled while it waits."""
    import threading

    job_id = enqueue(cli, command="true", max_retries=2)
    now = time.time()
    job = queue.store.claim("w-test", now, now + 60)  # a stand-in worker in this process
    assert job.id == job_id
    thread = threading.Thread(target=_finish_when_cancel_requested, args=(queue, job, ends))
    thread.start()
    result = cli("cancel", job_id)
    thread.join()
    if ends == "completed":
        assert result.code == 1 and "completed before" in result.err and "cancelled" not in result.out
        assert queue.job(job_id).state == "completed"
    else:
        assert result.code == 0, result.err
        job = queue.job(job_id)
        assert (job.state, job.last_error) == ("dead", "cancelled")


def test_a_burst_worker_stays_for_jobs_another_worker_gives_back(cli, queue, spawn_worker):
    """Two worker processes: whichever ends its short job first claims both slow jobs in one chain;
    the other, finding nothing pending, must not leave before that chain gives back the one it has
    not started, or the two slow jobs run one after the other."""
    for job_id, priority in (("a", 9), ("x", 9)):
        enqueue(cli, id=job_id, command="true", priority=priority)
    for job_id in ("b", "c"):
        enqueue(cli, id=job_id, command="sleep 1", priority=5)
    worker = spawn_worker(count=2, burst=True)
    assert worker.wait(30) == 0, worker.output()
    b, c = queue.job("b"), queue.job("c")
    assert b.state == c.state == "completed"
    assert b.worker != c.worker
    assert max(b.started_at, c.started_at) < min(b.finished_at, c.finished_at)  # they overlapped
