"""The engine's API: enqueue validation, listing, claim order, leases, guarded finish, cancel, prune."""

from __future__ import annotations

import pytest

from core import Conflict, InvalidInput, NotFound, Queue
from core.clock import FixedClock
from core.models import Settings
from core.queue import InvalidItem, failure_outcome
from core.store import Outcome

T0 = 1_800_000_000.0


@pytest.fixture
def fixed(queue):
    """The test's queue on a clock that moves only when told to."""
    clock = FixedClock(T0)
    return Queue(queue.store, clock), clock


def test_jobs_limit_is_checked_and_clamped(queue):
    queue.enqueue("true", id="a")
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(InvalidInput):
            queue.jobs(limit=bad)
    assert [j.id for j in queue.jobs(limit=2**80)] == ["a"]


@pytest.mark.parametrize("run_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "", "soon"])
def test_run_at_must_be_a_showable_time(queue, run_at):
    with pytest.raises(InvalidInput):
        queue.enqueue("true", run_at=run_at)
    assert queue.counts()["pending"] == 0


@pytest.mark.parametrize("timeout", [float("nan"), -1])
def test_wait_rejects_a_timeout_that_would_never_end(queue, timeout):
    queue.enqueue("true", id="w")
    with pytest.raises(InvalidInput):
        queue.wait(["w"], timeout=timeout)


def test_pool_stop_and_kill_from_inside_its_lock_do_not_deadlock(queue):
    """What a SIGINT handler does if it lands while the main thread is in Pool.resize()."""
    import threading

    from core.worker import Pool

    pool = Pool(queue, 1)
    done = threading.Event()

    def handler_during_resize():
        with pool.lock:  # the main thread inside resize()
            pool.stop()  # the signal handler, same thread
            pool.kill()
        done.set()

    thread = threading.Thread(target=handler_during_resize, daemon=True)
    thread.start()
    assert done.wait(5), "stop() deadlocked inside the pool lock"
    pool.start()
    assert pool.join(10)
