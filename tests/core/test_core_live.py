"""Live output in the engine: what a pool pushes (and when it does not), what readers get, and that a
failed push never harms the job."""

from __future__ import annotations

import logging

from core.errors import StorageError
from core.follow import Follow
from core.pool import Pool
from core.runner import Tail
from tests.helpers import run_burst, wait_until


def count_pushes(queue) -> list[tuple]:
    pushes: list[tuple] = []
    real = queue.store.push_live

    def push(*args, **kwargs):
        pushes.append(args)
        return real(*args, **kwargs)

    queue.store.push_live = push
    return pushes


def live_rows(queue) -> int:
    return queue.store._read(lambda c: c.execute("SELECT count(*) FROM live").fetchone()[0])


def test_tail_snapshot_leaves_the_tail_as_it_is():
    tail = Tail(5)
    for piece in (b"abc", b"defg", b"hi"):
        tail.add(piece)
    assert (tail.read, tail.snapshot()) == (9, b"efghi")
    tail.add(b"j")
    assert tail.snapshot() == b"fghij" == tail.value()


def test_short_jobs_push_nothing(queue):
    pushes = count_pushes(queue)
    for n in range(40):
        queue.enqueue(f"echo {n}")
    run_burst(queue, workers=2)
    assert queue.counts()["completed"] == 40
    assert pushes == [] and live_rows(queue) == 0


def test_a_running_job_is_pushed_at_most_once_a_second_and_its_row_goes(queue):
    pushes = count_pushes(queue)
    queue.enqueue("for i in $(seq 1 30); do echo $i; sleep 0.1; done", id="chatty")
    pool = Pool(queue, 1).start()
    try:
        wait_until(lambda: queue.job("chatty", live=True).runs and queue.job("chatty", live=True).runs[-1].stdout,
                   what="output so far")
        running = queue.job("chatty", live=True).runs[-1]
        assert running.running and running.stdout.startswith(b"1\n")
        wait_until(lambda: queue.job("chatty").state == "completed", what="the job's end")
        wait_until(lambda: live_rows(queue) == 0, what="the live row to go")
    finally:
        pool.stop()
        pool.join(10)
    assert 2 <= len(pushes) <= 4, pushes  # a 3 s job: once a second from 0.5 s
    times = [p[3] for p in pushes]
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:])), times
    assert queue.job("chatty").runs[-1].stdout == b"".join(b"%d\n" % i for i in range(1, 31))


def test_a_failing_push_is_logged_once_and_the_job_is_unharmed(queue, caplog):
    calls = []

    def broken(*args, **kwargs):
        calls.append(args)
        raise StorageError("disk full")

    queue.store.push_live = broken
    queue.enqueue("for i in $(seq 1 25); do echo $i; sleep 0.1; done", id="job")
    with caplog.at_level(logging.WARNING, logger="queuectl.worker"):
        pool = Pool(queue, 1).start()
        try:
            wait_until(lambda: queue.job("job").state == "completed", what="the job's end")
        finally:
            pool.stop()
            pool.join(10)
    assert len(calls) >= 2
    warnings = [r for r in caplog.records if "live output" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert queue.job("job").runs[-1].stdout.count(b"\n") == 25


def test_follow_reports_what_no_read_caught(queue):
    queue.set_setting("output-limit", 1000)
    queue.enqueue("head -c 50000 /dev/zero; sleep 1.2; echo end", id="big")
    pool = Pool(queue, 1).start()
    try:
        follow = Follow(queue, "big", poll=0.05)
        pieces = list(follow.pieces())
    finally:
        pool.stop()
        pool.join(10)
    assert follow.ok and follow.run is not None
    got = sum(len(p.data) + p.skipped for p in pieces if p.stream == "stdout")
    assert got == 50004 and pieces[-1].data.endswith(b"end\n")
    assert any(p.skipped for p in pieces)
