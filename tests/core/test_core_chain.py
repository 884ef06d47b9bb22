"""Short jobs are claimed and recorded in chains (core.chain.CHAIN): fewer transactions, and
still no job waiting behind a slow one, no result left unwritten, no cancel lost. Real pools of
worker threads over the `queue` fixture (SQLite and PostgreSQL)."""

from __future__ import annotations

from core.chain import CHAIN
from core.pool import Pool
from tests.helpers import wait_until


def spy_on_records(queue) -> list[tuple[list[str], list[str], list[str]]]:
    """Every record_and_claim call the store gets: (ended job ids, released job ids, claimed job ids)."""
    calls = []
    real = queue.store.record_and_claim

    def spy(ended, worker_id, now, lease_until, claim=1, release=(), queues=None):
        finished, claimed, cancelled = real(ended, worker_id, now, lease_until, claim, release, queues)
        calls.append(([e.job_id for e in ended], [job_id for job_id, _ in release], [j.id for j in claimed]))
        return finished, claimed, cancelled

    queue.store.record_and_claim = spy
    return calls


def test_short_jobs_are_recorded_in_chains_each_once(queue):
    calls = spy_on_records(queue)
    ids = queue.enqueue_many([{"command": "true", "id": f"j{i:02}"} for i in range(12)])
    ended = []
    pool = Pool(queue, 1, burst=True, on_job_end=lambda job, outcome: ended.append(job.id)).start()
    assert pool.join(30) and not pool.errors
    assert ended == ids  # claim order, each reported once
    assert all(len(claimed) <= CHAIN for _, _, claimed in calls)
    assert 1 < max(len(e) for e, _, _ in calls) <= CHAIN  # attempts written together
    assert len(calls) < len(ids)
    for job_id in ids:
        job = queue.job(job_id)
        assert (job.state, job.attempts, len(job.runs), job.runs[0].exit_code) == ("completed", 1, 1, 0)
    assert queue.counts()["completed"] == 12 and queue.counts()["processing"] == 0


def test_a_slow_job_gives_back_the_job_claimed_with_it(queue, tmp_path):
    queue.set_setting("poll-interval", 0.1)
    queue.enqueue_many([
        {"command": "true", "id": "first", "priority": 9},
        {"command": f"touch {tmp_path}/go; sleep 3", "id": "slow", "priority": 5},
        {"command": "true", "id": "next", "priority": 1},
    ])
    pool = Pool(queue, 1).start()
    try:
        wait_until(lambda: (tmp_path / "go").exists())
        # claimed together with `slow` after the short `first`, then given back once `slow` ran 50 ms
        given_back = wait_until(lambda: (j := queue.job("next")).state == "pending" and j, timeout=5)
        assert (given_back.attempts, given_back.worker, given_back.runs) == (0, None, ())
        assert given_back.updated_at > given_back.created_at  # it was claimed, not left untouched
        other = Pool(queue, 1).start()  # another worker takes it while `slow` still runs
        try:
            wait_until(lambda: queue.job("next").state == "completed", timeout=5)
            assert queue.job("slow").state == "processing"
        finally:
            other.stop()
            assert other.join(10)
        wait_until(lambda: queue.job("slow").state == "completed", timeout=10)
    finally:
        pool.stop()
        assert pool.join(10)
    assert [queue.job(i).attempts for i in ("first", "slow", "next")] == [1, 1, 1]
    assert queue.counts()["completed"] == 3


def test_an_attempt_ended_before_a_slow_one_is_written_without_waiting_for_it(queue, tmp_path):
    queue.enqueue_many([
        {"command": "true", "id": "a", "priority": 9},
        {"command": "echo b", "id": "b", "priority": 8},
        {"command": f"touch {tmp_path}/go; sleep 3", "id": "slow", "priority": 7},
    ])
    pool = Pool(queue, 1).start()
    try:
        wait_until(lambda: (tmp_path / "go").exists())
        wait_until(lambda: queue.job("b").state == "completed", timeout=2)
        assert queue.job("slow").state == "processing"
        assert queue.job("b", runs=True).runs[-1].stdout == b"b\n"
    finally:
        pool.kill()
        assert pool.join(15)


def test_a_stop_gives_back_the_unstarted_job_and_records_the_rest(queue):
    queue.enqueue_many([{"command": "true", "id": i, "priority": p} for i, p in (("a", 9), ("b", 8), ("c", 7))])
    calls = spy_on_records(queue)
    pool = Pool(queue, 1)
    pool.on_job_end = lambda job, outcome: pool.stop() if job.id == "a" else None  # b and c claimed by now
    pool.start()
    assert pool.join(10) and not pool.errors
    assert (queue.job("a").state, queue.job("b").state) == ("completed", "completed")
    c = queue.job("c")
    assert (c.state, c.attempts, c.worker, c.runs) == ("pending", 0, None, ())
    assert (["b"], ["c"], []) in calls  # b written and c given back in one transaction
    assert queue.counts()["pending"] == 1 and queue.counts()["processing"] == 0


def test_a_cancel_of_a_job_not_started_yet_is_honoured_when_it_is_given_back(queue):
    queue.enqueue_many([{"command": "true", "id": "a"}, {"command": "true", "id": "b"}])
    now = queue.clock.now()
    claimed = queue.store.record_and_claim([], "w", now, now + 30, claim=2)[1]
    assert [j.id for j in claimed] == ["a", "b"]
    assert queue.cancel("b") == "requested"  # processing as far as anyone can tell
    assert queue.store.release("b", "w", 1, now + 1)
    b = queue.job("b")
    assert (b.state, b.last_error, b.attempts, b.finished_at) == ("dead", "cancelled", 0, now + 1)
    assert queue.store.release("a", "w", 1, now + 1)
    assert (queue.job("a").state, queue.job("a").last_error) == ("pending", None)
    assert queue.counts()["dead"] == 1 and queue.counts()["pending"] == 1


def run_cancelling_c_after_a(queue, on_end=None) -> None:
    """A burst pool of one worker; when `a` ends, b and c are claimed with it: cancel c, and let a
    heartbeat see it. on_end(job) is told of every job that ends."""
    pool = Pool(queue, 1, burst=True)

    def after(job, outcome) -> None:
        if on_end is not None:
            on_end(job)
        if job.id == "a":
            assert queue.cancel("c") == "requested"
            pool._beat_once()

    pool.on_job_end = after
    pool.start()
    assert pool.join(10) and not pool.errors


def lose_answer(queue, when) -> list:
    """Make the first record_and_claim call for which when(ended ids, claim, released ids) is true
    commit and then raise StorageError, as a connection lost before the answer; returns the list
    of (ended ids, released ids) of that call once it happened."""
    from core.errors import StorageError

    real, lost = queue.store.record_and_claim, []

    def answer_lost(ended, worker_id, now, lease_until, claim=1, release=(), queues=None):
        result = real(ended, worker_id, now, lease_until, claim, release, queues)
        ended_ids, released = [e.job_id for e in ended], [job_id for job_id, _ in release]
        if not lost and when(ended_ids, claim, released):
            lost.append((ended_ids, released))
            raise StorageError("lost the connection (test)")
        return result

    queue.store.record_and_claim = answer_lost
    return lost


def test_a_job_cancelled_while_it_waits_in_a_chain_never_starts(queue, tmp_path):
    queue.enqueue_many([{"command": f"echo {i} >> {tmp_path}/ran", "id": i, "priority": p}
                        for i, p in (("a", 9), ("b", 8), ("c", 7))])
    run_cancelling_c_after_a(queue)
    c = queue.job("c")
    assert (c.state, c.last_error, c.attempts, c.runs) == ("dead", "cancelled", 0, ())
    assert (tmp_path / "ran").read_text().split() == ["a", "b"]
    assert queue.job("b").state == "completed"


def test_a_cancelled_job_given_back_by_a_write_whose_answer_was_lost_still_runs_its_hook(queue, tmp_path):
    """The write that gave back a cancelled job committed but its answer was lost: the one-by-one
    retry finds the job no longer this worker's. It recognises its own release (cancelled, never
    started, finished at that write's time): the on-dead hook runs once (it never ran)."""
    ledger = tmp_path / "ledger"
    queue.set_setting("on-dead", f'echo "$QUEUECTL_JOB_ID" >> {ledger}')
    queue.enqueue_many([{"command": f"echo {i} >> {tmp_path}/ran", "id": i, "priority": p}
                        for i, p in (("a", 9), ("b", 8), ("c", 7))])
    lost = lose_answer(queue, lambda ended, claim, released: bool(released))
    run_cancelling_c_after_a(queue)
    queue.hooks.wait(30)
    assert [released for _, released in lost] == [["c"]]
    c = queue.job("c")
    assert (c.state, c.last_error, c.attempts, c.runs) == ("dead", "cancelled", 0, ())
    assert ledger.read_text().split() == ["c"]
    assert (tmp_path / "ran").read_text().split() == ["a", "b"]


def test_a_flush_whose_answer_was_lost_still_runs_the_hooks_of_what_it_wrote(queue, tmp_path):
    """A flush (the chain's time is up while a job runs) tries once; its write committed but its
    answer was lost, and the next record found its rows already written: the results were said to
    be dropped and their hooks skipped. The worker knows its own writes by their times."""
    ledger = tmp_path / "ledger"
    queue.set_setting("on-dead", f'echo "dead $QUEUECTL_JOB_ID" >> {ledger}')
    queue.set_setting("on-completed", f'echo "completed $QUEUECTL_JOB_ID" >> {ledger}')
    queue.enqueue_many([{"command": "true", "id": "a", "priority": 9},
                        {"command": "sleep 0.5", "id": "b", "priority": 8},
                        {"command": "true", "id": "c", "priority": 7}])
    lost = lose_answer(queue, lambda ended, claim, released: bool(released))  # the flush while b runs
    ends = []
    run_cancelling_c_after_a(queue, lambda job: ends.append(job.id))
    queue.hooks.wait(30)
    assert lost == [([], ["c"])]
    assert (queue.job("c").state, queue.job("c").last_error) == ("dead", "cancelled")
    assert sorted(ledger.read_text().splitlines()) == ["completed a", "completed b", "dead c"]
    assert sorted(ends) == ["a", "b"]


def test_a_result_flushed_unheard_is_reported_once_not_dropped(queue, tmp_path):
    """The same for an attempt's result: the flush that wrote b's committed unheard; b was said to be
    dropped ("taken back (lease expired)") and its hook and on_job_end skipped."""
    ledger = tmp_path / "ledger"
    queue.set_setting("on-completed", f'echo "$QUEUECTL_JOB_ID" >> {ledger}')
    queue.enqueue_many([{"command": "true", "id": "a", "priority": 9}, {"command": "true", "id": "b", "priority": 8},
                        {"command": "sleep 0.5", "id": "c", "priority": 7}, {"command": "true", "id": "d", "priority": 6}])
    lost = lose_answer(queue, lambda ended, claim, released: claim == 0 and bool(ended))  # a flush while c runs
    ends = []
    pool = Pool(queue, 1, burst=True, on_job_end=lambda job, outcome: ends.append(job.id)).start()
    assert pool.join(10) and not pool.errors
    queue.hooks.wait(30)
    assert lost and "b" in lost[0][0], lost
    assert sorted(ledger.read_text().split()) == ["a", "b", "c", "d"]
    assert sorted(ends) == ["a", "b", "c", "d"]
    assert {queue.job(j).state for j in "abcd"} == {"completed"}
