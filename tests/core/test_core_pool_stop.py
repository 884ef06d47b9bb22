"""Pools stopped at any moment, even before or while they start: nothing keeps using a closed queue,
no worker process dies abnormally, and no job is left in `processing` (both backends)."""

from __future__ import annotations

import random
import threading
import time

from core import Queue
from core.errors import StorageError
from core.pool import Pool
from core.process_pool import ProcessPool
from tests.helpers import configure, wait_until


def pool_threads(pool: Pool) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("queuectl-worker") and getattr(t, "pool", None) is pool]


def test_a_pool_stopped_before_it_starts_starts_nothing(queue):
    queue.enqueue("true", id="j")
    pool = Pool(queue, 2)
    pool.stop()
    pool.start()
    assert pool.join(timeout=5)
    assert pool.workers == [] and pool_threads(pool) == []
    assert queue.job("j").state == "pending"


def test_a_result_the_database_never_takes_is_an_error_of_the_stopped_pool(queue, monkeypatch):
    """A stop while the database refuses every write: the worker retries the result for a lease,
    then gives up and says so (the CLI exits 1); the job is left to be taken back, never completed."""
    configure(queue, lease_timeout=1, poll_interval=0.05)
    queue.enqueue("sleep 0.3", id="j")
    pool = Pool(queue, 1).start()
    wait_until(lambda: queue.job("j").state == "processing", what="the job to start")

    def refuse(*args, **kwargs):
        raise StorageError("database is locked")

    for name in ("record_and_claim", "finish", "release"):
        monkeypatch.setattr(queue.store, name, refuse)
    pool.stop()
    assert pool.join(timeout=20), "the pool did not stop"
    assert [e for e in pool.errors if "stopped before it could record job j: database is locked" in e], pool.errors
    monkeypatch.undo()
    assert queue.job("j").state == "processing"


def test_pools_stopped_at_random_moments_leave_nothing_running(db):
    """Start a pool in one thread and stop it from another at a random moment, then close the queue
    at once, as the CLI and the app do: 40 times, with short jobs flowing."""
    rng = random.Random(17)
    with Queue.open(db) as q:
        configure(q, poll_interval=0.05)
        q.enqueue_many([{"command": "true"} for _ in range(400)])
    for _ in range(40):
        q = Queue.open(db)
        pool = Pool(q, 2)
        starter = threading.Thread(target=pool.start)
        delay = rng.uniform(-0.01, 0.05)
        if delay < 0:  # now and then the stop comes first
            pool.stop()
            starter.start()
        else:
            starter.start()
            time.sleep(delay)
            pool.stop() if rng.random() < 0.7 else pool.kill()
        starter.join(10)
        assert pool.join(timeout=30), "the pool did not stop"
        assert pool_threads(pool) == [], "a worker thread outlived join()"
        q.close()
    with Queue.open(db) as q:
        assert q.counts()["processing"] == 0


def test_process_pools_stopped_at_random_moments_exit_cleanly(db, tmp_path):
    """`worker start --count 2` then SIGTERM at a random moment: each child exits 0, never by a signal."""
    rng = random.Random(5)
    with Queue.open(db) as q:
        configure(q, poll_interval=0.05)
        q.enqueue_many([{"command": "true"} for _ in range(100)])
    for _ in range(12):
        pool = ProcessPool(db, 2)
        pool.start()
        time.sleep(rng.uniform(0, 0.25))
        pool.stop()
        assert pool.join(timeout=60)
        assert pool.errors == []
    with Queue.open(db) as q:
        assert q.counts()["processing"] == 0


def test_a_process_pool_told_to_stop_then_kill_at_once_kills_the_running_jobs(db, tmp_path):
    """stop() and kill() back to back (a double Ctrl-C): the kill is not lost in the stop."""
    with Queue.open(db) as q:
        configure(q, poll_interval=0.05)
        q.enqueue_many([{"command": f"touch {tmp_path}/j{i}; sleep 60", "id": f"j{i}"} for i in range(2)])
        pool = ProcessPool(db, 2).start()
        wait_until(lambda: (tmp_path / "j0").exists() and (tmp_path / "j1").exists(), what="both jobs to run")
        pool.stop()
        pool.kill()
        assert pool.join(timeout=20), "the running jobs were not killed"
        assert pool.errors == []
        for job_id in ("j0", "j1"):
            assert q.job(job_id).last_error == "killed: worker shut down"
