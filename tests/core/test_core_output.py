"""Captured output: the tail kept while a job prints more than output-limit and how much was not kept,
from the runner to the database and back, on both backends; outputs of megabytes stored byte for byte
(SQLite writes those into the row in place); a tail read of the stored output; and an older SQLite
database upgraded to hold the counts."""

from __future__ import annotations

import os
import sqlite3

from core import Queue
from core.runner import RunningJob, Tail
from core.store import Outcome
from tests.helpers import configure, run_burst


def test_the_runner_counts_what_it_did_not_keep():
    result = RunningJob("seq 1 100000; printf abc >&2", None, 1000).run()
    total = sum(len(str(i)) + 1 for i in range(1, 100001))
    assert (len(result.stdout), result.stdout_dropped) == (1000, total - 1000)
    assert (result.stderr, result.stderr_dropped) == (b"abc", 0)
    nothing = RunningJob("echo hi", None, 0).run()
    assert (nothing.stdout, nothing.stdout_dropped) == (b"", 3)


def test_dropped_counts_are_stored_per_attempt(queue: Queue):
    configure(queue, output_limit=10, backoff_base=0)
    queue.enqueue("printf '%s\\n' 1 2 3 4 5 6 7 8 9 10 $QUEUECTL_ATTEMPT; [ $QUEUECTL_ATTEMPT = 2 ]", id="j",
                  max_retries=1)
    run_burst(queue)
    runs = queue.job("j").runs
    assert [(r.stdout, r.stdout_dropped, r.stderr_dropped) for r in runs] == [
        (b"\n8\n9\n10\n1\n", 13, 0), (b"\n8\n9\n10\n2\n", 13, 0)]
    assert [r.to_dict()["stdout_dropped"] for r in runs] == [13, 13]


def test_a_tail_read_says_how_much_more_is_stored(queue: Queue):
    queue.enqueue("x", id="t")
    job = queue.store.claim("w", 1e12, 1e12 + 30)
    queue.store.finish("t", "w", job.attempts, Outcome("failed", 1e12, 1, "exit code 1", 1.0, 2.0, b"0123456789",
                                                        b"", 5, 0))
    run = queue.job("t", tail=4).runs[0]
    assert (run.stdout, run.stdout_unread, run.stdout_dropped, run.stderr, run.stderr_unread) == (
        b"6789", 6, 5, b"", 0)
    whole = queue.job("t").runs[0]
    assert (whole.stdout, whole.stdout_unread) == (b"0123456789", 0)


def test_one_attempts_output_is_read_without_the_others(queue: Queue):
    """`logs ID [--attempt N]` reads one attempt's output: the others come without theirs, counted
    as unread, so a job of many attempts with a large output-limit is not read whole."""
    configure(queue, backoff_base=0)
    queue.enqueue("printf out$QUEUECTL_ATTEMPT; printf e$QUEUECTL_ATTEMPT >&2; exit 1", id="j", max_retries=2)
    run_burst(queue)
    shown = {n: [(r.stdout, r.stdout_unread, r.stderr, r.stderr_unread) for r in queue.job("j", output_of=n).runs]
             for n in (1, 2, -1)}
    assert shown == {
        1: [(b"out1", 0, b"e1", 0), (b"", 4, b"", 2), (b"", 4, b"", 2)],
        2: [(b"", 4, b"", 2), (b"out2", 0, b"e2", 0), (b"", 4, b"", 2)],
        -1: [(b"", 4, b"", 2), (b"", 4, b"", 2), (b"out3", 0, b"e3", 0)],
    }
    assert [r.stdout for r in queue.job("j", output_of=-1, tail=2).runs] == [b"", b"", b"t3"]


def test_a_schema_5_database_migrates_its_runs(tmp_path):
    from core.store import MIGRATIONS, SCHEMA_VERSION, statements

    db = str(tmp_path / "old.db")
    conn = sqlite3.connect(db, isolation_level=None)  # an older queuectl's database, with history
    for version in range(1, 6):
        for statement in statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO jobs (id, command, state, attempts, max_retries, run_at, created_at, updated_at)"
                 " VALUES ('old', 'exit 1', 'failed', 1, 3, 0, 0, 0)")
    conn.execute("UPDATE job_counts SET n = 1 WHERE state = 'failed'")
    conn.execute("INSERT INTO runs (job_id, attempt, exit_code, error, stdout) VALUES ('old', 1, 1, 'exit code 1', ?)",
                 (b"x",))
    conn.close()
    with Queue.open(db) as q:
        assert [(r.stdout, r.stdout_dropped) for r in q.job("old").runs] == [(b"x", 0)]
        job = q.store.claim("w", 1e12, 1e12 + 30)
        q.store.finish("old", "w", job.attempts, Outcome("dead", None, 1, "exit code 1", 1e12, 1e12 + 1, b"y", b"z",
                                                          7, 8))
        assert [(r.stdout_dropped, r.stderr_dropped) for r in q.job("old").runs] == [(0, 0), (7, 8)]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_tail_keeps_the_last_limit_bytes_and_counts_the_rest():
    tail = Tail(10)
    for piece in (b"0123", b"456789ab", b"cdefghijklmnop", b"q"):
        tail.add(piece)
    assert (tail.value(), tail.read, tail.dropped) == (b"hijklmnopq", 27, 17)
    assert (Tail(0).value(), Tail(5).value(), Tail(5).dropped) == (b"", b"", 0)


def test_a_job_printing_more_than_the_limit_keeps_its_last_bytes():
    result = RunningJob("seq 1 200000; seq 1 100 >&2", None, 1000).run()
    assert result.stdout.endswith(b"199999\n200000\n") and len(result.stdout) == 1000
    assert result.stderr == b"".join(b"%d\n" % n for n in range(1, 101))


def test_outputs_of_megabytes_are_stored_and_read_back_exactly(queue):
    out, err = os.urandom(3 << 20), os.urandom((1 << 20) + 7)
    queue.enqueue("x", id="big", max_retries=0)
    now = queue.clock.now()
    job = queue.store.claim("w", now, now + 30)
    assert queue.store.finish("big", "w", job.attempts, Outcome("dead", None, 1, "exit code 1", now, now, out, err))
    run = queue.job("big").runs[-1]
    assert (run.stdout, run.stderr) == (out, err)
