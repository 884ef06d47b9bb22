"""Captured output: the tail kept while a job prints more than output-limit, and large outputs
stored and read back byte for byte (SQLite writes those into the row in place)."""

from __future__ import annotations

import os

from core.runner import RunningJob, Tail
from core.store import Outcome


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
