"""The storage contract, checked on both backends (the `queue` fixture is parametrized): where the
PostgreSQL store could drift from the SQLite one (NULL ordering, LIKE case, RETURNING order, BYTEA,
booleans), the same calls must give the same answers."""

from __future__ import annotations

import pytest

from core import Queue
from core.clock import FixedClock
from core.errors import Conflict
from core.models import WorkerInfo
from core.store import Outcome
from tests.helpers import finish_and_claim

T0 = 1_800_000_000.0


@pytest.fixture
def fixed(db: str):
    clock = FixedClock(T0)
    q = Queue.open(db, clock=clock)
    yield q, clock
    q.close()


def test_claim_order_priority_then_due_then_age(fixed):
    q, clock = fixed
    q.enqueue_many([
        {"command": "true", "id": "low"},
        {"command": "true", "id": "high", "priority": 5},
        {"command": "true", "id": "later", "priority": 9, "delay": 60},
        {"command": "true", "id": "low2"},
    ])
    order = []
    while (job := q.store.claim("w", clock.now(), clock.now() + 30)) is not None:
        order.append(job.id)
    assert order == ["high", "low", "low2"]
    assert q.store.next_due() == T0 + 60
    clock.advance(61)
    assert q.store.claim("w", clock.now(), clock.now() + 30).id == "later"
    assert q.store.claim("w", clock.now(), clock.now() + 30) is None


def test_next_due_is_the_earliest_due_time_across_every_priority(fixed):
    q, clock = fixed
    assert q.store.next_due() is None
    q.enqueue_many([
        {"command": "true", "id": "p9", "priority": 9, "delay": 300},
        {"command": "true", "id": "p5", "priority": 5, "delay": 50},
        {"command": "true", "id": "p5b", "priority": 5, "delay": 20},
        {"command": "true", "id": "neg", "priority": -3, "delay": 10},
        {"command": "true", "id": "p0", "priority": 0, "delay": 700},
    ])
    assert q.store.next_due() == T0 + 10  # the lowest priority holds the earliest
    q.cancel("neg")
    assert q.store.next_due() == T0 + 20
    clock.advance(25)
    assert q.store.claim("w", clock.now(), clock.now() + 30).id == "p5b"
    assert q.store.next_due() == T0 + 50 and q.figures().latency == 0
    clock.advance(40)
    assert q.figures().latency == pytest.approx(15)


def test_finish_is_guarded_and_records_the_run(fixed):
    q, clock = fixed
    q.enqueue("printf 'a\\0b'", id="j")
    job = q.store.claim("w1", T0, T0 + 30)
    assert job.state == "processing" and job.attempts == 1 and job.worker == "w1"
    done = Outcome("completed", None, 0, None, T0, T0 + 1, stdout=b"a\x00b\xff", stderr=b"")
    assert not q.store.finish("j", "w2", 1, done)  # not the owner
    assert not q.store.finish("j", "w1", 2, done)  # not this attempt
    assert not q.store.finish("j", "w1", 1, done, lease_seen=T0)  # lease still valid
    assert q.store.finish("j", "w1", 1, done)
    assert not q.store.finish("j", "w1", 1, done)  # only once
    job = q.job("j")
    assert (job.state, job.exit_code, job.finished_at, job.lease_until) == ("completed", 0, T0 + 1, None)
    assert [(r.number, r.attempt, r.worker, r.stdout) for r in job.runs] == [(1, 1, "w1", b"a\x00b\xff")]


def test_failed_attempt_waits_then_is_claimable(fixed):
    q, clock = fixed
    q.enqueue("false", id="j", max_retries=1)
    q.store.claim("w", T0, T0 + 30)
    assert q.store.finish("j", "w", 1, Outcome("failed", T0 + 2, 1, "exit 1", T0, T0))
    job = q.job("j")
    assert (job.state, job.finished_at, job.run_at) == ("failed", None, T0 + 2)
    assert q.store.claim("w", T0 + 1, T0 + 31) is None
    assert q.store.claim("w", T0 + 2, T0 + 32).attempts == 2


def test_finish_and_claim_guard_order_and_return_contract(fixed):
    """One transaction: the guarded finish (run row only when it counted), then the claim in claim
    order for the same worker, whether or not the finish was still this worker's: (finished, next)."""
    q, clock = fixed
    q.enqueue_many([
        {"command": "true", "id": "first", "priority": 9},
        {"command": "true", "id": "low"},
        {"command": "true", "id": "high", "priority": 5},
        {"command": "true", "id": "later", "priority": 7, "delay": 60},
    ])
    assert q.store.claim("w1", T0, T0 + 30).id == "first"
    done = Outcome("completed", None, 0, None, T0, T0 + 1, stdout=b"out\x00", stderr=b"err")
    # Not the owner: nothing recorded, and the caller still gets the next job in claim order.
    finished, nxt = finish_and_claim(q.store, "first", "w2", 1, done, T0 + 1, T0 + 31)
    assert finished is False
    assert (nxt.id, nxt.state, nxt.worker, nxt.attempts, nxt.started_at, nxt.lease_until) == (
        "high", "processing", "w2", 1, T0 + 1, T0 + 31)
    first = q.job("first")
    assert (first.state, first.worker, len(first.runs)) == ("processing", "w1", 0)
    # Not this attempt: same.
    assert finish_and_claim(q.store, "first", "w1", 2, done, T0 + 1, T0 + 31)[0] is False
    assert q.job("low").worker == "w1"  # that call claimed "low" for w1 (the delayed job is not due)
    # The owner: recorded with its run row, and the next due job claimed (none left: None).
    finished, nxt = finish_and_claim(q.store, "first", "w1", 1, done, T0 + 2, T0 + 32)
    assert (finished, nxt) == (True, None)
    first = q.job("first")
    assert (first.state, first.exit_code, first.finished_at, first.lease_until) == ("completed", 0, T0 + 1, None)
    assert [(r.attempt, r.worker, r.stdout, r.stderr) for r in first.runs] == [(1, "w1", b"out\x00", b"err")]
    # Only once; and with nothing due the lost finish gives (False, None).
    assert finish_and_claim(q.store, "first", "w1", 1, done, T0 + 3, T0 + 33) == (False, None)
    assert len(q.job("first").runs) == 1
    # The claim sees the finish of the same call: a failure due at once is claimed again at once.
    assert finish_and_claim(q.store, "low", "w1", 1, Outcome("failed", T0 + 3, 1, "exit 1", T0, T0 + 3),
                                    T0 + 3, T0 + 33)[1].id == "low"
    low = q.job("low")
    assert (low.state, low.attempts, low.worker, [r.error for r in low.runs]) == ("processing", 2, "w1", ["exit 1"])
    assert q.counts()["processing"] == 2 and q.counts()["completed"] == 1


def test_release_undoes_a_claim_without_counting_it(fixed):
    q, clock = fixed
    q.enqueue("true", id="fresh")
    q.store.claim("w", T0, T0 + 30)
    assert q.store.release("fresh", "other", 1, T0) is None
    assert q.store.release("fresh", "w", 1, T0) == "pending"
    job = q.job("fresh")
    assert (job.state, job.attempts, job.worker, job.lease_until) == ("pending", 0, None, None)
    q.cancel("fresh")
    q.enqueue("false", id="retry", max_retries=3)
    q.store.claim("w", T0, T0 + 30)
    q.store.finish("retry", "w", 1, Outcome("failed", T0, 1, "exit 1", T0, T0))
    assert q.store.claim("w", T0, T0 + 30).attempts == 2
    assert q.store.release("retry", "w", 2, T0) == "failed"
    assert (q.job("retry").state, q.job("retry").attempts) == ("failed", 1)


def test_a_release_tells_which_jobs_a_cancel_ended_dead(fixed):
    """Their on-dead hook is the worker's to run: the store says which they are."""
    q, clock = fixed
    q.enqueue_many([{"command": "true", "id": i} for i in ("kept", "gone", "solo")])
    assert [j.id for j in q.store.record_and_claim([], "w", T0, T0 + 30, 3)[1]] == ["kept", "gone", "solo"]
    assert q.cancel("gone") == "requested" and q.cancel("solo") == "requested"
    assert q.store.record_and_claim([], "w", T0, T0 + 30, 0, [("kept", 1), ("gone", 1)]) == ([], [], ["gone"])
    assert q.store.release("solo", "w", 1, T0) == "dead"
    assert [(q.job(i).state, q.job(i).last_error, q.job(i).attempts) for i in ("kept", "gone", "solo")] == [
        ("pending", None, 0), ("dead", "cancelled", 0), ("dead", "cancelled", 0)]


def test_leases_expiry_and_renewal(fixed):
    q, clock = fixed
    q.enqueue_many([{"command": "true", "id": "a"}, {"command": "true", "id": "b"}])
    q.store.claim("w1", T0, T0 + 10)
    q.store.claim("w2", T0, T0 + 10)
    q.store.renew_leases(["w1"], T0 + 5, T0 + 20)
    assert [j.id for j in q.store.expired(T0 + 15)] == ["b"]
    assert q.store.finish("b", "w2", 1, Outcome("failed", T0, None, "lease", T0, T0 + 15), lease_seen=T0 + 15)


def test_listing_orders_counts_and_search(fixed):
    q, clock = fixed
    q.enqueue_many([{"command": f"echo {n}", "id": f"job-{n}"} for n in range(5)])
    q.enqueue("Make_Coffee 100%", id="Brew")
    assert [j.id for j in q.jobs(limit=3)] == ["Brew", "job-4", "job-3"]
    assert [j.id for j in q.jobs(search="brew")] == ["Brew"]  # case-insensitive, as SQLite's LIKE
    assert [j.id for j in q.jobs(search="e_c")] == ["Brew"]  # _ and % are literal
    assert [j.id for j in q.jobs(search="100%")] == ["Brew"]
    assert q.count(search="ECHO") == 5
    assert q.count("pending") == 6 and q.count(["dead", "completed"]) == 0
    q.store.claim("w", T0, T0 + 30)
    q.store.finish("job-0", "w", 1, Outcome("completed", None, 0, None, T0, T0 + 3))
    q.cancel("job-1")
    assert q.counts() == {"pending": 4, "processing": 0, "completed": 1, "failed": 0, "dead": 1}
    assert q.store.completed_since(T0 + 3) == 1 and q.store.completed_since(T0 + 4) == 0
    # finished first, then the unfinished (NULL) ones last, newest first
    assert [j.id for j in q.jobs(order="finished", limit=3)] == ["job-0", "job-1", "Brew"]
    assert [j.id for j in q.jobs(order="started", limit=2)] == ["job-0", "Brew"]
    assert [j.id for j in q.jobs("pending", order="claim", limit=2)] == ["job-2", "job-3"]


def test_bulk_insert_is_all_or_nothing(fixed):
    q, clock = fixed
    q.enqueue("true", id="taken")
    with pytest.raises(Conflict, match="item 2: job id 'taken'"):
        q.enqueue_many([{"command": "true", "id": "new"}, {"command": "true", "id": "taken"}])
    assert q.count() == 1
    big = q.enqueue_many([{"command": f"echo '{n}\t\\n'", "priority": n % 3} for n in range(2000)])
    assert len(set(big)) == 2000 and q.count() == 2001
    assert q.job(big[7]).command == "echo '7\t\\n'"


def test_dead_jobs_retry_cancel_and_prune(fixed):
    q, clock = fixed
    q.enqueue_many([{"command": "true", "id": i} for i in ("a", "b", "c")])
    for i in ("a", "b", "c"):
        q.cancel(i)
    assert q.job("a").last_error == "cancelled"
    assert q.store.requeue_dead(["c", "a", "c", "zz"], T0 + 1) == ["c", "a"]
    assert (q.job("a").state, q.job("a").attempts) == ("pending", 0)
    assert q.store.requeue_dead(None, T0 + 1) == ["b"]
    for i in ("a", "b", "c"):
        q.cancel(i)
    clock.advance(100)
    q.enqueue("true", id="d")
    q.cancel("d")
    assert q.prune("dead", 50) == 3
    assert [j.id for j in q.jobs()] == ["d"]


def test_cancel_flags_on_processing_jobs(fixed):
    q, clock = fixed
    q.enqueue("sleep 10", id="p")
    q.store.claim("w", T0, T0 + 30)
    assert q.store.cancel_requested(["p"]) == set()
    assert q.cancel("p") == "requested"
    assert q.store.cancel_requested(["p", "x"]) == {"p"}
    assert not q.store.cancel_waiting("p", T0)


def test_settings_and_workers(fixed):
    q, clock = fixed
    assert q.set_setting("poll-interval", "0.25") == 0.25
    q.set_setting("poll-interval", 2)
    assert q.config()["poll-interval"] == 2
    q.store.register_worker(WorkerInfo("w1", "host-a", 10, None, T0, T0))
    q.store.register_worker(WorkerInfo("w2", "host-b", 11, None, T0 + 1, T0 + 1))
    q.enqueue("true", id="job-x")
    assert q.store.claim("w1", T0, T0 + 30).id == "job-x"  # a worker's job is the one it holds
    assert [(w.id, w.job_id, w.stop_requested) for w in q.workers()] == [("w1", "job-x", False), ("w2", None, False)]
    assert sorted(q.request_stop()) == ["w1", "w2"]
    assert q.store.stop_requested(["w1", "w3"]) == {"w1"}
    q.store.register_worker(WorkerInfo("w1", "host-a", 12, None, T0 + 2, T0 + 2))  # re-registration resets
    assert q.store.stop_requested(["w1", "w2"]) == {"w2"}
    q.store.renew_leases(["w2"], T0 + 40, T0 + 70)
    clock.advance(35)  # lease-timeout 30: w1 last beat at T0 + 2
    assert [w.id for w in q.workers()] == ["w2"]
    q.store.remove_worker("w2")
    assert q.store.list_workers(0) == [q.store.list_workers(0)[0]] and q.store.list_workers(0)[0].id == "w1"


def test_a_worker_asked_to_stop_claims_nothing_more(fixed):
    """From the moment `worker stop` commits, whether or not the worker's heartbeat has heard of it yet;
    in a chain's claim too (record_and_claim)."""
    q, clock = fixed
    q.enqueue_many([{"command": "true", "id": i} for i in ("a", "b", "c")])
    for worker in ("w1", "w2"):
        q.store.register_worker(WorkerInfo(worker, "host", 1, None, T0, T0))
    assert q.store.request_stop(["w1"]) == ["w1"]
    assert q.store.claim("w1", T0, T0 + 30) is None
    assert q.store.record_and_claim([], "w1", T0, T0 + 30, 4) == ([], [], [])
    assert [j.id for j in q.store.record_and_claim([], "w2", T0, T0 + 30, 4)[1]] == ["a", "b", "c"]
