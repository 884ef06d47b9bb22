"""The engine's API: enqueue validation, listing, claim order, leases, guarded finish, cancel, prune."""

from __future__ import annotations

import pytest

from core import Conflict, InvalidInput, NotFound, Queue
from core.clock import FixedClock
from core.models import Settings
from core.queue import InvalidItem, failure_outcome
from core.store import Outcome
from tests.helpers import finish_and_claim

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

    from core.pool import Pool

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


# --- enqueue -------------------------------------------------------------------------------------


def test_enqueue_defaults_and_fields(fixed):
    q, clock = fixed
    q.set_setting("max-retries", 2)
    job = q.enqueue("echo hi")
    assert (job.state, job.attempts, job.max_retries, job.priority, job.timeout) == ("pending", 0, 2, 0, None)
    assert job.run_at == job.created_at == T0 and len(job.id) == 12
    job = q.enqueue("x", id="named", max_retries=0, priority=-3, delay=5, timeout=2.5)
    assert (job.id, job.max_retries, job.priority, job.run_at, job.timeout) == ("named", 0, -3, T0 + 5, 2.5)
    assert q.enqueue("x", run_at="2027-01-15T08:00:00+01:00").run_at == 1799996400.0 + 0  # 07:00Z
    assert q.enqueue("x", timeout=0).timeout is None  # 0 = the configured job-timeout


def test_enqueue_many_is_all_or_nothing(queue):
    with pytest.raises(InvalidItem) as info:
        queue.enqueue_many([{"command": "a"}, {"command": "b"}, {"command": "c", "nope": 1}])
    assert info.value.index == 2 and "item 3" in str(info.value)
    queue.enqueue("z", id="taken")
    with pytest.raises(Conflict):
        queue.enqueue_many([{"command": "a", "id": "fresh"}, {"command": "b", "id": "taken"}])
    with pytest.raises(InvalidItem):
        queue.enqueue_many([{"command": "a", "id": "dup"}, {"command": "b", "id": "dup"}])
    assert [j.id for j in queue.jobs()] == ["taken"]
    ids = queue.enqueue_many({"command": f"echo {i}"} for i in range(2000))
    assert len(set(ids)) == 2000 and queue.count("pending") == 2001


def test_counts_have_every_state(queue):
    assert queue.counts() == {"pending": 0, "processing": 0, "completed": 0, "failed": 0, "dead": 0}
    with pytest.raises(InvalidInput):
        queue.jobs(state="bogus")
    with pytest.raises(NotFound):
        queue.job("missing")


# --- claim, leases, finish -----------------------------------------------------------------------


def test_claim_order_priority_then_due_then_enqueue_order(fixed):
    q, clock = fixed
    q.enqueue("x", id="late-high", priority=9, delay=100)  # not due: skipped however high
    q.enqueue("x", id="a", priority=1)
    q.enqueue("x", id="b", priority=5)
    q.enqueue("x", id="c", priority=1)
    q.enqueue("x", id="d", priority=1, run_at="2020-01-01T00:00:00Z")  # due earliest among the 1s
    order = []
    while (job := q.store.claim("w", clock.now(), clock.now() + 30)) is not None:
        order.append(job.id)
        assert (job.state, job.worker, job.attempts, job.lease_until) == ("processing", "w", 1, clock.now() + 30)
    assert order == ["b", "d", "a", "c"]
    clock.advance(100)
    assert q.store.claim("w", clock.now(), clock.now() + 30).id == "late-high"


def test_threads_claim_each_job_exactly_once(queue):
    import threading

    queue.enqueue_many([{"command": "x", "id": f"j{i}"} for i in range(300)])
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        import time

        while (job := queue.store.claim(f"w{n}", time.time(), time.time() + 30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"j{i}" for i in range(300))


def test_finish_only_by_the_owner_of_that_attempt(fixed):
    q, clock = fixed
    q.enqueue("x", id="j")
    job = q.store.claim("w1", clock.now(), clock.now() + 30)
    done = Outcome("completed", None, 0, None, clock.now(), clock.now() + 1)
    assert not q.store.finish("j", "w2", 1, done)  # another worker
    assert not q.store.finish("j", "w1", 2, done)  # another attempt
    assert q.store.finish("j", "w1", job.attempts, done)
    assert not q.store.finish("j", "w1", job.attempts, done)  # not twice
    job = q.job("j")
    assert (job.state, job.exit_code, job.finished_at, len(job.runs)) == ("completed", 0, T0 + 1, 1)


def test_expired_lease_is_a_failed_attempt(fixed):
    q, clock = fixed
    q.set_setting("backoff-base", 3)
    q.enqueue("x", id="j", max_retries=1)
    q.store.claim("gone", clock.now(), clock.now() + 10)
    clock.advance(5)
    assert q.recover_expired() == []  # the lease still holds
    q.store.renew_leases(["gone"], clock.now(), clock.now() + 10)  # a heartbeat extends it
    clock.advance(9)
    assert q.recover_expired() == []
    clock.advance(2)
    assert q.recover_expired() == ["j"]
    job = q.job("j")
    assert (job.state, job.attempts, job.run_at) == ("failed", 1, clock.now() + 3)
    assert "lease expired" in job.runs[0].error
    assert not q.store.finish("j", "gone", 1, Outcome("completed", None, 0, None, T0, clock.now()))
    clock.advance(3)
    q.store.claim("w2", clock.now(), clock.now() + 10)
    clock.advance(11)
    assert q.recover_expired() == ["j"]
    assert q.job("j").state == "dead"  # 1 + max_retries attempts used


def test_cancel_requested_while_worker_gone_ends_dead_cancelled(fixed):
    q, clock = fixed
    q.enqueue("x", id="j", max_retries=5)
    q.store.claim("gone", clock.now(), clock.now() + 1)
    assert q.cancel("j") == "requested"
    clock.advance(2)
    q.recover_expired()
    assert (q.job("j").state, q.job("j").last_error) == ("dead", "cancelled")


def test_backoff_is_base_to_the_attempt_capped():
    s = Settings(backoff_base=2, backoff_max=10)
    assert [s.backoff(a) for a in (1, 2, 3, 4, 5000)] == [2, 4, 8, 10, 10]
    assert Settings(backoff_base=0).backoff(1) == 0


def test_failure_outcome_retries_until_attempts_exceed_max_retries(queue):
    s = Settings(backoff_base=2)
    job = queue.enqueue("x", max_retries=2)
    for attempts, state in ((1, "failed"), (2, "failed"), (3, "dead")):
        out = failure_outcome(job._replace(attempts=attempts), s, 100.0, exit_code=1, error="e", started_at=99.0)
        assert out.state == state
        assert out.run_at == (100.0 + 2**attempts if state == "failed" else None)


# --- retry, cancel, prune, settings --------------------------------------------------------------


def test_retry_dead_validates_first(fixed):
    q, clock = fixed
    q.enqueue("x", id="p")
    q.enqueue("x", id="d", delay=50)
    q.cancel("d")
    with pytest.raises(Conflict):
        q.retry_dead(["d", "p"])
    assert q.job("d").state == "dead"
    with pytest.raises(NotFound):
        q.retry_dead(["d", "nope"])
    assert q.retry_dead(["d"]) == ["d"]
    job = q.job("d")
    assert (job.state, job.attempts, job.run_at) == ("pending", 0, T0)
    assert q.retry_dead() == []


def test_cancel_states(fixed):
    q, clock = fixed
    q.enqueue("x", id="p")
    assert q.cancel("p") == "cancelled"
    with pytest.raises(Conflict):
        q.cancel("p")
    with pytest.raises(NotFound):
        q.cancel("missing")


def test_prune_by_age_and_state(fixed):
    q, clock = fixed
    q.enqueue("x", id="old")
    q.cancel("old")
    clock.advance(7200)
    q.enqueue("x", id="new")
    q.cancel("new")
    q.enqueue("x", id="waiting")
    assert q.prune("dead", 3600) == 1
    assert [j.id for j in q.jobs()] == ["waiting", "new"]
    with pytest.raises(InvalidInput):
        q.prune("pending", 0)


def test_settings_validation_and_persistence(db):
    from core.models import SETTINGS

    with Queue.open(db) as q:
        assert q.config() == Settings().as_dict()
        assert q.set_setting("backoff-base", "1.5") == 1.5
        assert q.set_setting("max-retries", 7) == 7
        for key, bad in (("max-retries", -1), ("max-retries", 1.5), ("poll-interval", 0), ("lease-timeout", 0.9),
                         ("output-limit", "big"), ("job-timeout", float("inf")), ("worker-count", 257),
                         ("max-retries", True)):
            with pytest.raises(InvalidInput) as info:
                q.set_setting(key, bad)
            assert key in str(info.value)
        with pytest.raises(InvalidInput) as info:
            q.get_setting("nope")
        assert all(k in str(info.value) for k in SETTINGS)
    with Queue.open(db) as q:
        assert (q.settings().backoff_base, q.settings().max_retries) == (1.5, 7)


def test_schema_is_created_once_and_reopened(db):
    with Queue.open(db) as q:
        q.enqueue("x", id="kept")
    with Queue.open(db) as q:
        assert q.job("kept").command == "x"


def test_counts_follow_every_state_change(fixed):
    """counts() comes from counters kept as jobs move (SQLite: by triggers and insert_jobs): after
    every kind of move, it matches the jobs."""
    from collections import Counter

    q, clock = fixed

    def check(step: str) -> None:
        real = Counter(j.state for j in q.jobs(limit=100))
        assert q.counts() == {s: real.get(s, 0) for s in ("pending", "processing", "completed", "failed", "dead")}, step

    def claim(expected: str):
        job = q.store.claim("w", clock.now(), clock.now() + 30)
        assert job is not None and job.id == expected
        return job

    def failure(job) -> Outcome:
        return failure_outcome(job, q.settings(), clock.now(), exit_code=1, error="exit code 1", started_at=clock.now())

    for priority, job_id in enumerate("fedcba"):  # claimed in the order a, b, c, ...
        q.enqueue("true", id=job_id, priority=priority, max_retries=0 if job_id == "b" else 3)
    check("enqueue")
    a = claim("a")
    check("claim")
    q.store.finish("a", "w", a.attempts, Outcome("completed", None, 0, None, clock.now(), clock.now()))
    check("finish: completed")
    b = claim("b")
    assert finish_and_claim(q.store, "b", "w", b.attempts, failure(b), clock.now(), clock.now() + 30)[1].id == "c"
    check("finish and claim: dead, then the next")
    assert q.store.release("c", "w", 1, clock.now())
    check("release")
    c = claim("c")
    q.store.finish("c", "w", c.attempts, failure(c))
    check("finish: failed")
    clock.advance(3600)
    claim("c")
    check("claim a failed job")
    clock.advance(60)
    assert q.recover_expired() == ["c"]
    check("lease expired")
    assert q.cancel("e") == "cancelled"
    check("cancel a pending job")
    assert sorted(q.retry_dead()) == ["b", "e"]
    check("retry dead")
    assert q.prune("completed", 60) == 1
    check("prune")


def test_a_quiet_success_is_an_attempt_like_any_other(fixed, db):
    """A success that printed nothing writes no run row (the job row holds it all); reading the job
    shows it as its last attempt all the same, after failures and after a DLQ retry."""
    q, clock = fixed

    def attempt(job_id: str, outcome: str, out: bytes = b""):
        job = q.store.claim("w1", clock.now(), clock.now() + 30)
        assert job is not None and job.id == job_id
        start, end = clock.now() + 0.001, clock.now() + 0.5
        clock.advance(1)
        if outcome == "ok":
            result = Outcome("completed", None, 0, None, start, end, out)
        else:
            result = failure_outcome(job, q.settings(), end, exit_code=3, error="exit code 3", started_at=start)
        assert q.store.finish(job_id, "w1", job.attempts, result)
        clock.advance(3600)  # past any backoff

    q.enqueue("true", id="quiet")
    attempt("quiet", "ok")
    (run,) = q.job("quiet").runs
    assert (run.number, run.attempt, run.worker, run.exit_code, run.error, run.stdout, run.stderr) == \
        (1, 1, "w1", 0, None, b"", b"")
    assert (run.started_at, run.finished_at) == (T0 + 0.001, T0 + 0.5)  # the process's own start, not the claim
    assert q.job("quiet").to_dict(with_runs=True)["runs"][0]["exit_code"] == 0

    q.enqueue("exit 3", id="again", max_retries=0)
    attempt("again", "fail")
    assert q.retry_dead(["again"]) == ["again"]
    attempt("again", "ok")
    runs = q.job("again").runs
    assert [(r.number, r.attempt, r.exit_code) for r in runs] == [(1, 1, 3), (2, 1, 0)]

    q.enqueue("echo hi", id="loud")
    attempt("loud", "ok", b"hi\n")
    assert [(r.attempt, r.stdout) for r in q.job("loud").runs] == [(1, b"hi\n")]  # its row, once
    if not db.startswith("postgresql"):
        import sqlite3

        rows = sqlite3.connect(db).execute("SELECT job_id, count(*) FROM runs GROUP BY job_id ORDER BY 1").fetchall()
        assert rows == [("again", 1), ("loud", 1)]  # no row for either quiet success


def test_a_schema_3_database_migrates_with_its_counts(tmp_path):
    import sqlite3

    db = str(tmp_path / "old.db")
    from core.store import MIGRATIONS, SCHEMA_VERSION, statements

    conn = sqlite3.connect(db, isolation_level=None)  # an older queuectl's database
    for version in (1, 2, 3):
        for statement in statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    with Queue.open(db) as q:
        q.enqueue("x", id="a")
        q.enqueue("y", id="b")
        job = q.store.claim("w", 1e12 - 10, 1e12)
        assert q.counts()["pending"] == 1 and q.counts()["processing"] == 1
        assert [j.id for j in q.store.expired(1e12 + 1)] == [job.id] and q.store.expired(1e12 - 1) == []
        q.store.finish(job.id, "w", 1, Outcome("completed", None, 0, None, 1e12 - 10, 1e12 - 5))
        assert (q.counts()["processing"], q.counts()["completed"], q.counts()["pending"]) == (0, 1, 1)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'jobs_lease'").fetchone()[0] == 0
    conn.close()


def test_a_schema_4_database_migrates_with_its_runs(tmp_path):
    import sqlite3

    db = str(tmp_path / "old.db")
    from core.store import MIGRATIONS, statements

    conn = sqlite3.connect(db, isolation_level=None)  # an older queuectl's database, with history
    for version in (1, 2, 3, 4):
        for statement in statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO jobs (id, command, state, attempts, max_retries, run_at, created_at, updated_at)"
                 " VALUES ('old', 'exit 1', 'failed', 2, 3, 0, 0, 0)")
    conn.execute("UPDATE job_counts SET n = 1 WHERE state = 'failed'")
    for attempt, out in ((1, b"first"), (2, b"second")):
        conn.execute("INSERT INTO runs (job_id, attempt, exit_code, error, stdout) VALUES ('old', ?, 1, 'exit code 1', ?)",
                     (attempt, out))
    conn.close()
    with Queue.open(db) as q:
        job = q.store.claim("w", 1e12, 1e12 + 30)
        assert job.id == "old" and [r.stdout for r in q.job("old").runs] == [b"first", b"second"]
        q.store.finish("old", "w", 3, Outcome("completed", None, 0, None, 1e12, 1e12 + 1, b"third"))
        assert [(r.attempt, r.stdout) for r in q.job("old").runs] == [(1, b"first"), (2, b"second"), (3, b"third")]
        assert [j.id for j in q.jobs("completed")] == ["old"] and q.jobs("processing") == []
        assert q.counts() == {"pending": 0, "processing": 0, "completed": 1, "failed": 0, "dead": 0}
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sqlite_sequence WHERE name = 'runs'").fetchone()[0] == 0
    index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs_state_seq'").fetchone()[0]
    assert "WHERE state != 'processing'" in index
    conn.close()


def test_a_new_sqlite_database_gets_the_store_page_size(tmp_path):
    import sqlite3

    from core.store import SQLiteStore

    with Queue.open(str(tmp_path / "new.db")) as q:
        q.enqueue("x", id="a")
    conn = sqlite3.connect(str(tmp_path / "new.db"))
    assert conn.execute("PRAGMA page_size").fetchone()[0] == SQLiteStore.PAGE_SIZE
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
