"""A live worker's job is never taken back because another writer held the database past the lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import Queue
from core.lifecycle import expired_outcome
from tests.helpers import configure, wait_until

# Another process holds the write lock for a while: SQLite's, or the PostgreSQL jobs table's (every
# heartbeat writes to it). This is what a bulk `enqueue -` or a large `prune` does to the others.
HOLD = """
import sys, time
location, seconds = sys.argv[1], float(sys.argv[2])
if location.startswith("postgresql://"):
    import urllib.parse
    import psycopg
    conninfo, _, query = location.partition("?")  # the test server's URL: no password, ?schema=NAME
    schema = urllib.parse.parse_qs(query)["schema"][0]
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'LOCK TABLE "{schema}".jobs IN EXCLUSIVE MODE')
        print("held", flush=True)
        time.sleep(seconds)
else:
    import sqlite3
    conn = sqlite3.connect(location, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("held", flush=True)
    time.sleep(seconds)
    conn.execute("COMMIT")
"""


def hold(db: str, seconds: float) -> subprocess.Popen:
    """Another process holding the database's write lock for `seconds`, once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, db, str(seconds)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    assert holder.stdout.readline().strip() == "held"
    return holder


def start_long_job(db: str, spawn_worker, marker: Path, command: str = "echo $QUEUECTL_ATTEMPT >> {marker}; sleep 6"):
    """Lease 1 s; the job `long` running in a worker process (returned) once it wrote `marker`."""
    with Queue.open(db) as q:
        configure(q, lease_timeout=1, poll_interval=0.1)
        q.enqueue(command.format(marker=marker), id="long")
    runner = spawn_worker()
    wait_until(lambda: marker.exists(), what="the job to start")
    return runner


def test_a_running_job_is_not_taken_back_while_another_process_holds_the_database(db, cli, spawn_worker, tmp_path):
    marker = tmp_path / "attempts"
    runner = start_long_job(db, spawn_worker, marker)
    checker = spawn_worker()  # a second worker process: idle, it is the one that would take the job back
    wait_until(lambda: len(cli("worker", "list", "--json").json()) == 2, what="both workers")
    holder = hold(db, 4)
    assert holder.wait(30) == 0  # four lease lengths
    wait_until(lambda: cli("show", "long", "--json").json()["state"] == "completed", timeout=30,
               what="the job to complete")
    job = cli("show", "long", "--json").json()
    assert job["attempts"] == 1, job
    assert marker.read_text().split() == ["1"]  # it ran once: never started again beside itself
    for worker in (runner, checker):
        assert "lease expired" not in worker.output()


def test_a_dead_worker_of_another_host_is_still_taken_back(queue):
    """Without the same-host shortcut (its process cannot be looked at), the heartbeat takes the job
    back after two sightings: within a few heartbeats of the lease running out."""
    from core.pool import Pool

    configure(queue, lease_timeout=1, poll_interval=0.1, backoff_base=0)
    queue.enqueue("true", id="orphan", max_retries=1)
    now = queue.clock.now()
    assert queue.store.claim("elsewhere:4242:abc:1", now, now + 1).id == "orphan"
    pool = Pool(queue, 1).start()
    try:
        wait_until(lambda: queue.job("orphan").state == "completed", timeout=15, what="the job to be taken back")
    finally:
        pool.stop()
        pool.join(10)
    job = queue.job("orphan")
    assert job.attempts == 2 and "lease expired" in job.runs[0].error


def job_processes(job_id: str) -> list[int]:
    """This user's processes that run an attempt of job_id (found by the environment a worker gives)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"QUEUECTL_JOB_ID={job_id}\0".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_a_stalled_workers_job_is_killed_when_another_worker_on_its_host_takes_it_back(db, spawn_worker, tmp_path):
    """A worker stopped (SIGSTOP, a suspended laptop) past its lease: the job is taken back and run again,
    and the first attempt's processes, which went on without it, are stopped first: never two at once."""
    marker = tmp_path / "runs"
    with Queue.open(db) as q:
        configure(q, lease_timeout=1, poll_interval=0.1, backoff_base=0)
        q.enqueue(f"echo start-$QUEUECTL_ATTEMPT >> {marker}; sleep 4; echo end-$QUEUECTL_ATTEMPT >> {marker}",
                  id="long", max_retries=1)
    stalled = spawn_worker()
    wait_until(lambda: marker.exists(), what="the first attempt to start")
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        spawn_worker()
        wait_until(lambda: "end-2" in marker.read_text(), timeout=30, what="the second attempt to end")
    finally:
        os.kill(stalled.pid, signal.SIGCONT)
    assert marker.read_text().split() == ["start-1", "start-2", "end-2"]  # attempt 1 never ran beside it
    with Queue.open(db) as q:
        wait_until(lambda: q.job("long").state == "completed", what="the job to be recorded")
        assert "lease expired" in q.job("long").runs[0].error


def test_a_resumed_worker_kills_the_job_it_lost(db, spawn_worker, tmp_path):
    """Taken back by a worker of another host (which cannot stop its processes), the job is killed by
    its own worker at its first heartbeat once it runs again, rather than run to its end."""
    marker = tmp_path / "runs"
    with Queue.open(db) as q:
        configure(q, lease_timeout=1, poll_interval=0.1)
        q.enqueue(f"echo start >> {marker}; sleep 6; echo end >> {marker}", id="lost", max_retries=0)
        stalled = spawn_worker()
        wait_until(lambda: marker.exists(), what="the job to start")
        os.kill(stalled.pid, signal.SIGSTOP)
        try:
            job = q.job("lost", runs=False)
            time.sleep(max(0.0, (job.lease_until or 0) - time.time()) + 0.1)
            # what another host's heartbeat does to it (Queue.recover_expired, less the /proc part)
            assert q.store.finish(job.id, job.worker, job.attempts,
                                  expired_outcome(job, False, q.settings(), time.time()), lease_seen=job.lease_until)
            assert job_processes("lost"), "the attempt runs on while its worker is stopped"
        finally:
            os.kill(stalled.pid, signal.SIGCONT)
        wait_until(lambda: not job_processes("lost"), timeout=5, what="the lost attempt to be killed")
        assert "its lease was lost" in stalled.output()
        assert marker.read_text().split() == ["start"]
        assert q.job("lost").state == "dead" and "lease expired" in q.job("lost").last_error


def test_a_watching_pool_without_workers_takes_back_no_live_job_while_the_database_is_held(db, cli, spawn_worker,
                                                                                             tmp_path):
    """The app with --workers 0 (a Pool of size 0) wrote nothing at its heartbeat, so it could not see
    that it had waited: it took the job back and killed it, and the job ran twice."""
    from core.pool import Pool

    marker = tmp_path / "attempts"
    runner = start_long_job(db, spawn_worker, marker)
    watcher = Pool(Queue.open(db), 0).start()
    try:
        holder = hold(db, 4)
        assert holder.wait(30) == 0
        wait_until(lambda: cli("show", "long", "--json").json()["state"] == "completed", timeout=30,
                   what="the job to complete")
    finally:
        watcher.stop()
        assert watcher.join(30)
        watcher.queue.close()
    assert cli("show", "long", "--json").json()["attempts"] == 1
    assert marker.read_text().split() == ["1"]
    assert "lease expired" not in runner.output() and "killed" not in runner.output()


def test_worker_stop_reaches_a_worker_whose_heartbeat_a_long_lock_held_up(db, cli, spawn_worker, tmp_path):
    """Held past the lease, the worker looked gone: `worker stop` said "no live workers", asked none,
    and the worker ran on. Now every worker row is asked, and the worker ends after its job."""
    marker = tmp_path / "started"
    runner = start_long_job(db, spawn_worker, marker, "touch {marker}; sleep 5")
    holder = hold(db, 4)
    time.sleep(2.5)  # past the lease: the worker's last heartbeat is stale
    stop = cli("worker", "stop", "--timeout", "30")
    assert stop.code == 0, stop.err
    assert holder.wait(30) == 0
    assert runner.wait(30) == 0, runner.output()
    assert cli("show", "long", "--json").json()["state"] == "completed"
