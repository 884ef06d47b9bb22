"""Queues in the store and the engine (issue 13), on SQLite and PostgreSQL: the claim honours limits
(chains included), pauses and the queues a worker serves; counts per queue; migrations keep old jobs."""

from __future__ import annotations

import sqlite3

import pytest

from core import Queue
from core.errors import InvalidInput
from core.models import STATES
from core.pool import Pool
from core.migrations import statements
from core.migrations.sqlite import SQLITE_MIGRATIONS
from core.store import Ended, Outcome
from tests.helpers import run_burst


def claim_all(queue: Queue, worker: str, n: int, queues=None) -> list[str]:
    now = queue.clock.now()
    return [j.id for j in queue.store.record_and_claim((), worker, now, now + 60, n, (), queues)[1]]


def test_a_chain_claims_no_more_than_the_limit(queue):
    queue.enqueue_many([{"command": "true", "id": f"g{i}", "queue": "gpu"} for i in range(6)]
                       + [{"command": "true", "id": "other"}])
    queue.set_queue_limit("gpu", 2)
    assert claim_all(queue, "w1", 4) == ["g0", "other"]  # a chain takes one job of a limited queue
    assert claim_all(queue, "w2", 4) == ["g1"]  # so the other workers get the other slots
    assert claim_all(queue, "w3", 4) == []  # the third gpu job waits for a slot
    now = queue.clock.now()
    outcome = Outcome("completed", None, 0, None, now, now)
    finished, claimed, _ = queue.store.record_and_claim([Ended("g0", 1, outcome)], "w1", now, now + 60, 4)
    assert finished == [True] and [j.id for j in claimed] == ["g2"]  # one slot freed, one taken
    queue.set_queue_limit("gpu", 0)
    assert claim_all(queue, "w2", 4) == ["g3", "g4", "g5"]


def test_a_paused_queue_is_not_claimed_and_not_waited_for(queue):
    queue.enqueue("true", id="m1", queue="mail")
    queue.pause_queue("mail")
    assert claim_all(queue, "w", 4) == []
    assert queue.store.next_due() is None  # a burst worker does not wait for a paused queue
    queue.enqueue("true", id="d1")
    assert queue.store.next_due() is not None
    assert claim_all(queue, "w", 4) == ["d1"]
    queue.resume_queue("mail")
    assert claim_all(queue, "w", 4) == ["m1"]
    assert queue.queues()[1].to_dict() == {"name": "mail", "counts": {
        "pending": 0, "processing": 1, "completed": 0, "failed": 0, "dead": 0}, "running": 1, "limit": 0,
        "paused": False}


def test_a_worker_claims_only_from_its_queues(queue):
    queue.enqueue_many([{"command": "true", "id": name, "queue": name, "priority": p}
                        for name, p in (("a", 0), ("b", 5), ("c", 9))])
    assert queue.store.next_due(["a"]) is not None and queue.store.next_due(["zzz"]) is None
    assert claim_all(queue, "w", 4, ["a", "b"]) == ["b", "a"]  # priority order across its queues
    assert claim_all(queue, "w", 4, ["a", "b"]) == []
    assert queue.job("c").state == "pending"


def test_a_worker_of_several_queues_takes_their_jobs_in_claim_order(queue):
    """Each queue's first job, then the first of those: the same order as one walk over them all
    (priority, then due time, then enqueue order), passing over paused, full and unserved queues."""
    queue.enqueue_many([{"command": "true", "id": f"bulk{i}", "queue": "bulk", "priority": 9} for i in range(50)])
    queue.enqueue_many([
        {"command": "true", "id": "a1", "queue": "a"},
        {"command": "true", "id": "b1", "queue": "b"},
        {"command": "true", "id": "a2", "queue": "a", "priority": 2},
        {"command": "true", "id": "b2", "queue": "b", "priority": 2},
        {"command": "true", "id": "b-later", "queue": "b", "priority": 7, "delay": 600},
        {"command": "true", "id": "c1", "queue": "c", "priority": 5},
        {"command": "true", "id": "d1", "queue": "d", "priority": 8},
        {"command": "true", "id": "d2", "queue": "d", "priority": 8},
    ])
    queue.pause_queue("c")
    queue.set_queue_limit("d", 1)
    served = ["a", "b", "c", "d", "none"]
    assert claim_all(queue, "w", 1, served) == ["d1"]
    assert claim_all(queue, "w", 3, served) == ["a2", "b2", "a1"]  # d is full; a chain takes no limited job
    queue.resume_queue("c")
    assert claim_all(queue, "w", 9, served) == ["c1", "b1"]  # b-later is not due, d2 waits for d1's slot
    assert queue.job("bulk0").state == "pending"


def test_a_worker_of_more_queues_than_it_seeks_walks_the_ready_jobs(queue):
    """Past SEEKS_AT_MOST queues a claim walks jobs_ready (SQLite caps a UNION's terms): same order."""
    many = [f"q{i}" for i in range(queue.store.SEEKS_AT_MOST + 8)]
    queue.enqueue_many([{"command": "true", "id": name, "queue": name, "priority": i % 3}
                        for i, name in enumerate(many[::-1])] + [{"command": "true", "id": "other", "priority": 9}])
    expected = [j.id for j in queue.jobs(["pending"], limit=100, order="claim") if j.id != "other"]
    assert claim_all(queue, "w", 100, many + many[:3]) == expected  # a name given twice counts once
    assert queue.job("other").state == "pending"


def test_one_queue_is_served_in_its_own_order_whatever_the_others_hold(queue):
    """A worker of one queue, and that queue's latency, read the queue's own index (jobs_ready_queue):
    the other queues' ready jobs ahead of it in claim order, and its own waiting ones, are passed over."""
    queue.enqueue_many([{"command": "true", "id": f"bulk{i}", "queue": "bulk", "priority": 9} for i in range(300)])
    queue.enqueue_many([
        {"command": "true", "id": "s-low", "queue": "solo"},
        {"command": "true", "id": "s-later", "queue": "solo", "priority": 5, "delay": 600},
        {"command": "true", "id": "s-high", "queue": "solo", "priority": 3},
        {"command": "true", "id": "s-after", "queue": "solo", "priority": 9, "after": ["bulk0"]},
    ])
    now = queue.clock.now()
    assert [j.id for j in queue.jobs(["pending", "failed"], order="claim", queue="solo")] == [
        "s-later", "s-high", "s-low", "s-after"]  # claim order (s-later once due); the waiting one last
    assert queue.store.next_due(["solo"]) <= now
    assert claim_all(queue, "w", 1, ["solo"]) == ["s-high"]
    assert claim_all(queue, "w", 1, ["solo"]) == ["s-low"]
    assert claim_all(queue, "w", 1, ["solo"]) == []  # s-later is not due, s-after waits for bulk0
    assert queue.store.next_due(["solo"]) == pytest.approx(now + 600, abs=5)
    assert queue.store.next_due(["solo", "bulk"]) <= now
    figures = queue.figures(per_queue=True)
    assert figures.latencies["solo"] == 0 and figures.latencies["bulk"] >= 0
    queue.pause_queue("solo")
    assert queue.store.next_due(["solo"]) is None
    assert claim_all(queue, "w", 3, ["bulk"]) == ["bulk0", "bulk1", "bulk2"]  # a chain's claims, too


@pytest.mark.sqlite_only
def test_a_claim_or_due_time_of_one_queue_is_one_seek_in_its_index(tmp_path):
    """The plans (claim, due time, listing), since no timing can be asserted: no sort, and the
    one-queue index, searched."""
    q = Queue.open(str(tmp_path / "plan.db"))
    conn = sqlite3.connect(tmp_path / "plan.db")
    try:
        due, _ = q.store._served("next_due", ["solo"])
        where, _ = q.store._where(["pending", "failed"], None, ["solo"])
        listing = f"SELECT id FROM jobs{q.store._index(['pending', 'failed'], 'claim', ['solo'])}{where}" \
                  " AND waiting = 0 ORDER BY priority DESC, run_at, seq LIMIT 50"
        statements = [(due, ("solo",) * 3), (listing, ("solo",))]
        for more in (False, True):
            claim, pick = q.store._claim_sql(more, ["solo"], 0.0)
            statements.append((claim, ("w", 0, 0, 0, *pick, "w")))
        for sql, params in statements:
            plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
            assert any("USING INDEX jobs_ready_queue (queue=?" in step for step in plan), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
    finally:
        conn.close()
        q.close()


@pytest.mark.sqlite_only
def test_a_claim_from_several_queues_seeks_each_one_and_walks_no_other(tmp_path):
    """A worker of several queues: one seek per queue in jobs_ready_queue, then the first of those
    few; jobs_ready (every queue's ready jobs in claim order) is never walked."""
    q = Queue.open(str(tmp_path / "plan.db"))
    conn = sqlite3.connect(tmp_path / "plan.db")
    try:
        for more in (False, True):
            claim, pick = q.store._claim_sql(more, ["a", "b", "c"], 0.0)
            plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + claim, ("w", 0, 0, 0, *pick, "w"))]
            seeks = [step for step in plan if step.startswith(("SEARCH r ", "SCAN r"))]
            assert seeks == ["SEARCH r USING INDEX jobs_ready_queue (queue=?)"] * 3, plan
    finally:
        conn.close()
        q.close()


def test_a_pool_serves_its_queues_and_gives_each_job_its_queue_and_env(queue, tmp_path):
    out = tmp_path / "out"
    queue.enqueue(f'echo "$QUEUECTL_QUEUE $X" >> {out}', queue="build", env={"X": "y z"}, cwd=str(tmp_path))
    queue.enqueue(f"echo no >> {out}", queue="other")
    pool = Pool(queue, 2, burst=True, queues=["build"]).start()
    assert pool.join(30) and not pool.errors
    assert out.read_text() == "build y z\n"
    assert queue.count("pending", queue="other") == 1 and queue.count(queue="build") == 1


def test_counts_and_listings_per_queue(queue):
    queue.enqueue_many([{"command": "true", "queue": q} for q in ("a", "a", "b")])
    queue.enqueue("false", queue="b", max_retries=0)
    run_burst(queue)
    by_name = {info.name: info.counts for info in queue.queues()}
    assert by_name["a"]["completed"] == 2 and by_name["b"] == {
        "pending": 0, "processing": 0, "completed": 1, "failed": 0, "dead": 1}
    assert queue.count(["completed", "dead"], queue=["b"]) == 2
    assert {j.queue for j in queue.jobs(queue="a")} == {"a"}
    assert len(queue.jobs(search="b")) >= 2  # the filter matches queue names too
    queue.prune("completed", 0)
    assert {info.name: info.counts["completed"] for info in queue.queues()} == {"b": 0}


def test_the_counts_of_each_state_add_up_every_queues(queue):
    """The totals are the sums of each queue's counts, whatever the names (they share one keyed table
    on SQLite, "STATE QUEUE", read as one range of keys per state)."""
    names = ["0", "a", "a-b", "a_b", "d", "dead", "z" * 64]
    queue.enqueue_many([{"command": "true", "queue": name} for name in names for _ in range(len(name) % 3 + 1)])
    queue.enqueue_many([{"command": "false", "queue": name, "max_retries": 0} for name in names[::2]])
    run_burst(queue)
    queue.enqueue_many([{"command": "true", "queue": name} for name in names[1::2]])
    totals = {state: sum(info.counts[state] for info in queue.queues()) for state in STATES}
    assert queue.counts() == totals and totals["completed"] and totals["dead"] == 4 and totals["pending"] == 3


def test_listings_of_a_queue_stop_at_the_jobs_its_counters_know_of(queue):
    """A queue's listing reads its counters first and walks no further than the jobs they count: it
    must still give every job the filters match, in order, whatever the limit."""
    queue.enqueue_many([{"command": "true", "id": f"old{i}", "queue": "rare"} for i in range(3)]
                       + [{"command": "false", "queue": "rare", "max_retries": 0}]
                       + [{"command": "true"} for _ in range(40)])
    run_burst(queue)
    queue.enqueue_many([{"command": "true", "id": f"new{i}", "queue": "rare", "priority": i} for i in range(3)]
                       + [{"command": "true", "queue": "empty"}, {"command": "true", "after": ["new0"], "queue": "rare"}])
    every = queue.jobs(limit=1000)
    for states in (None, ["completed"], ["dead"], ["pending", "failed"], ["processing"], ["completed", "dead"]):
        for limit in (1, 2, 3, 5, 100):
            wanted = [j.id for j in every if j.queue == "rare" and (states is None or j.state in states)][:limit]
            assert [j.id for j in queue.jobs(states, limit=limit, queue=["rare"])] == wanted, (states, limit)
    assert [j.id for j in queue.jobs(["pending", "failed"], queue=["rare"], order="claim")][:3] == ["new2", "new1", "new0"]
    assert len(queue.jobs(["pending", "failed"], queue=["rare"], order="claim")) == 4  # the waiting one last
    assert queue.jobs(["completed"], queue=["empty"]) == [] and queue.jobs(queue=["nowhere"]) == []
    assert len(queue.jobs(queue=["rare", "empty"], limit=100)) == 9


@pytest.mark.parametrize("bad", ["", "Upper", "a b", "-x", "x" * 65, 3, None])
def test_bad_queue_names_are_refused(queue, bad):
    with pytest.raises(InvalidInput):
        queue.set_queue_limit(bad, 1)
    with pytest.raises(InvalidInput):
        queue.enqueue("true", queue=bad) if bad is not None else queue.pause_queue(bad)
    assert queue.queues() == []


@pytest.mark.parametrize("limit", [-1, 1.5, "x", True, 1_000_001])
def test_bad_limits_are_refused(queue, limit):
    with pytest.raises(InvalidInput):
        queue.set_queue_limit("gpu", limit)
    assert queue.queues() == []


@pytest.mark.sqlite_only
def test_schema_7_keeps_the_jobs_and_counts_of_a_schema_6_database(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version in range(1, 7):
        for statement in statements(SQLITE_MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("INSERT INTO jobs (id, command, state, max_retries, run_at, created_at, updated_at)"
                 " VALUES ('old', 'true', 'pending', 3, 0, 0, 0)")
    conn.execute("UPDATE job_counts SET n = 1 WHERE state = 'pending'")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    q = Queue.open(str(path))
    job = q.job("old")
    assert (job.queue, job.cwd, job.env) == ("default", None, None)
    assert q.counts()["pending"] == 1 and [i.name for i in q.queues()] == ["default"]
    run_burst(q)
    assert q.queues()[0].counts["completed"] == 1
    q.close()


def test_a_worker_held_back_by_a_limit_is_woken_when_a_slot_frees(queue):
    """Polls are 30 s apart here: only the wake-up sent when the limited job's end is recorded can
    start the next job within seconds (its own worker, paused, claims nothing more)."""
    from tests.helpers import configure, wait_until

    configure(queue, poll_interval=30)
    queue.set_queue_limit("gpu", 1)
    queue.enqueue("sleep 1", id="g0", queue="gpu")
    queue.enqueue("true", id="g1", queue="gpu")
    first = Pool(queue, 1).start()
    second = None
    try:
        wait_until(lambda: queue.job("g0").state == "processing", 10, what="g0 running")
        second = Pool(queue, 1).start()  # finds the queue full: waits for a wake-up (or 30 s)
        wait_until(lambda: second.snapshot() and second.settings(), 5)
        first.pause()  # so the slot g0 frees is not taken by its own worker's next claim
        wait_until(lambda: queue.job("g1").state == "completed", 10, what="g1, woken by g0's end")
        assert queue.job("g1").worker.startswith(f"{second.host}:{second.pid}:{second.token}")
    finally:
        for pool in (first, second):
            if pool is not None:
                pool.stop()
                pool.join(10)
