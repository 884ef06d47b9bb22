"""A worker survives database errors without losing or repeating a job (both backends): the store is
wrapped so that chosen calls fail the way a lost connection makes them fail."""

from __future__ import annotations

import collections
import threading
from pathlib import Path

from core import Queue
from core.errors import StorageError
from core.pool import Pool
from tests.helpers import wait_until


class FlakyStore:
    """Delegates to a real store; `fail[name] = n` makes the next n calls of that method from a
    worker thread fail. A failing claim is written first and only then fails (its answer is lost
    on the way back)."""

    def __init__(self, store, thread: str = "queuectl-worker") -> None:
        self._store = store
        self._thread = thread  # the threads whose calls fail: a worker's, or the heartbeat's
        self.written_first = {"claim"}  # calls whose failure comes after they committed
        self.fail: dict[str, int] = collections.defaultdict(int)
        self.calls: collections.Counter = collections.Counter()

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls[name] += 1
            if self.fail[name] > 0 and threading.current_thread().name.startswith(self._thread):
                self.fail[name] -= 1
                if name in self.written_first:
                    attr(*args, **kwargs)
                raise StorageError(f"lost the connection (test: {name})")
            return attr(*args, **kwargs)

        return call


def run_pool(db: str, tmp_path: Path, n: int, written_first: tuple[str, ...] = (),
             **fail: int) -> tuple[Queue, FlakyStore, Pool]:
    marker = tmp_path / "marker"
    real = Queue.open(db)
    real.set_setting("poll-interval", 0.05)
    real.enqueue_many([{"command": f"echo job-{i} >> {marker}", "id": f"job-{i}"} for i in range(n)])
    flaky = FlakyStore(real.store)
    flaky.written_first.update(written_first)
    flaky.fail.update(fail)
    pool = Pool(Queue(flaky), 1, burst=True).start()
    assert pool.join(timeout=60), "the pool did not finish"
    ran = collections.Counter(marker.read_text().split())
    assert ran == {f"job-{i}": 1 for i in range(n)}
    assert real.counts()["completed"] == n
    return real, flaky, pool


def test_claim_answer_lost_is_released_and_run_once(db: str, tmp_path: Path):
    q, flaky, pool = run_pool(db, tmp_path, 3, claim=1)
    assert flaky.calls["release"] >= 1 and not pool.errors
    assert [(j.attempts, len(j.runs)) for j in (q.job(f"job-{i}") for i in range(3))] == [(1, 1)] * 3
    q.close()


def test_result_is_recorded_once_the_database_is_back(db: str, tmp_path: Path):
    # a worker records a result with record_and_claim (the next claim in the same transaction);
    # when that fails it falls back to finish, retried until the database takes it
    q, flaky, pool = run_pool(db, tmp_path, 2, finish=3, record_and_claim=2)
    assert flaky.calls["finish"] == 5 and flaky.fail["finish"] == 0 and not pool.errors
    assert flaky.fail["record_and_claim"] == 0
    assert all(len(q.job(f"job-{i}").runs) == 1 for i in range(2))
    q.close()


def test_worker_waits_out_an_unavailable_database(db: str, tmp_path: Path):
    # (workers no longer write their current job per job: worker list reads it from the jobs table)
    q, flaky, pool = run_pool(db, tmp_path, 2, register_worker=1, read_settings=2, record_and_claim=1, next_due=1)
    assert not pool.errors and not any(flaky.fail.values())
    q.close()


def test_an_outage_is_a_few_log_lines_not_one_per_retry(db: str, tmp_path: Path, caplog):
    """The same error again and again is said once (then every 30 s), and its end once."""
    import logging

    caplog.set_level(logging.WARNING, logger="queuectl")
    q, flaky, pool = run_pool(db, tmp_path, 2, claim=4)
    assert not pool.errors and flaky.fail["claim"] == 0
    said = [r.getMessage() for r in caplog.records if "worker" in r.getMessage()]
    lost = [line for line in said if "lost the connection (test: claim)" in line]
    assert len(lost) == 1 and "retrying every" in lost[0], said
    assert len([line for line in said if "the database answers again" in line]) == 1, said
    q.close()


def test_a_result_retried_through_an_outage_is_said_once(db: str, tmp_path: Path, caplog):
    """Recording a finished job one by one through an outage: one line for the first failure (not
    one per retry), and one when the database takes it."""
    import logging

    caplog.set_level(logging.WARNING, logger="queuectl")
    q, flaky, pool = run_pool(db, tmp_path, 1, finish=4, record_and_claim=1)
    assert flaky.fail["finish"] == 0 and not pool.errors
    said = [r.getMessage() for r in caplog.records if "worker" in r.getMessage()]
    retried = [line for line in said if "cannot record job job-0: lost the connection (test: finish)" in line]
    assert len(retried) == 1 and "retrying every" in retried[0], said
    assert len([line for line in said if "the database answers again" in line]) == 1, said
    q.close()


def test_a_heartbeat_through_an_outage_is_said_once_and_its_end_once(db: str, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="queuectl")
    real = Queue.open(db)
    real.set_setting("lease-timeout", 1)  # a beat every 0.25 s
    flaky = FlakyStore(real.store, thread="queuectl-heartbeat")
    pool = Pool(Queue(flaky), 1).start()
    wait_until(lambda: flaky.calls["renew_leases"] >= 2)
    flaky.fail["renew_leases"] = 12
    wait_until(lambda: flaky.fail["renew_leases"] == 0 and flaky.calls["renew_leases"] >= 16)
    pool.stop()
    assert pool.join(timeout=30)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("heartbeat")]
    assert len(said) == 2, said
    assert "lost the connection (test: renew_leases); retrying every" in said[0]
    assert "the database answers again" in said[1]
    real.close()


def test_results_written_before_their_answer_was_lost_still_run_their_hooks(db: str, tmp_path: Path, caplog):
    """record_and_claim committed but its answer was lost: the one-by-one retry finds each attempt
    recorded by this worker already. Each job ran once; each still runs its hook, and no result
    is said to be dropped."""
    import logging

    caplog.set_level(logging.WARNING, logger="queuectl")
    ledger = tmp_path / "ledger"
    with Queue.open(db) as q:
        q.set_setting("on-completed", f'echo "$QUEUECTL_JOB_ID" >> {ledger}')
    real, flaky, pool = run_pool(db, tmp_path, 6, written_first=("record_and_claim",), record_and_claim=2)
    assert flaky.fail["record_and_claim"] == 0 and not pool.errors
    pool.queue.hooks.wait(30)
    assert sorted(ledger.read_text().split()) == [f"job-{i}" for i in range(6)]
    assert not [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    real.close()
