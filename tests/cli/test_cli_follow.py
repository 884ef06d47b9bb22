"""`queuectl logs ID` on a running job and `logs ID --follow`, with the worker in another process, on
both backends: each line shows while the job runs, a pending job is waited for, a flood is followed
with a skip marker in bounded memory, a retried job's next attempt is followed, Ctrl-C is exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from core import Queue
from tests.conftest import BIN, clean_env
from tests.helpers import FAST, configure, wait_until

FIVE_LINES = "for i in 1 2 3 4 5; do echo $i $(date +%s.%N); sleep 0.5; done; sleep 1.5"


class Follower:
    """`queuectl logs ID --follow` in the background; each stdout line kept with the time it came."""

    def __init__(self, db: str, job_id: str, *extra: str) -> None:
        self.proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "logs", job_id, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
        self.lines: list[tuple[float, bytes]] = []
        self.err = b""
        self._out = threading.Thread(target=self._read, daemon=True)
        self._out.start()
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._err.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.time(), line))

    def _read_err(self) -> None:
        self.err = self.proc.stderr.read()

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._out.join(5)
        self._err.join(5)
        return code


def test_follow_shows_each_line_while_the_job_runs(db, spawn_worker):
    q = Queue.open(db)
    q.enqueue(FIVE_LINES, id="five")
    spawn_worker()
    follower = Follower(db, "five", "--follow")
    assert follower.wait() == 0
    job = q.job("five")
    assert job.state == "completed"
    assert [line.split()[0] for _, line in follower.lines] == [b"1", b"2", b"3", b"4", b"5"]
    for came, line in follower.lines:
        printed = float(line.split()[1])
        assert came < job.finished_at - 0.5, f"line {line!r} came at the job's end, not while it ran"
        assert came - printed < 1.8, f"line {line!r} came {came - printed:.2f}s after it was printed"
    q.close()


def test_logs_of_a_running_job_prints_its_output_so_far(db, cli, spawn_worker):
    q = Queue.open(db)
    q.enqueue("echo early; echo 'err [bold]' >&2; sleep 30", id="slow")
    spawn_worker()
    got = wait_until(lambda: (r := cli("logs", "slow")).out and r, timeout=20, what="output so far")
    assert (got.code, got.out, got.err) == (0, "early\n", "err [bold]\n")
    assert q.job("slow").state == "processing"
    assert cli("cancel", "slow").code == 0
    q.close()


def test_follow_waits_for_a_pending_job_and_exits_with_its_result(db, spawn_worker):
    q = Queue.open(db)
    q.enqueue("echo started; sleep 0.5; echo failing >&2; exit 4", id="later", max_retries=0)
    follower = Follower(db, "later", "-f")
    time.sleep(1.5)
    assert follower.proc.poll() is None and not follower.lines, "follow ended before the job started"
    started = time.time()
    spawn_worker()
    assert follower.wait() == 1
    assert [line for _, line in follower.lines] == [b"started\n"]
    assert follower.lines[0][0] >= started
    assert follower.err == b"failing\n"
    assert q.job("later").state == "dead"
    q.close()


def test_follow_of_a_flood_says_what_it_skipped_in_bounded_memory(db, spawn_worker):
    q = Queue.open(db)
    configure(q, output_limit=65536)
    q.enqueue("yes 0123456789abcdef | head -c 10000000; sleep 1", id="flood")
    spawn_worker()
    wait_until(lambda: q.job("flood").state == "processing", what="the flood to start")
    proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "logs", "flood", "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    markers = [line for line in err.decode().splitlines() if "bytes of stdout skipped" in line]
    assert len(markers) == 1, err
    skipped = int(markers[0].split()[1].replace(",", ""))
    assert skipped + len(out) == 10_000_000
    assert 0 < len(out) <= 65536 and (b"0123456789abcdef\n" * 588_236)[:10_000_000].endswith(out)
    q.close()


def test_follow_memory_stays_bounded(db, spawn_worker):
    """The follower's own memory: no more than the output-limit tail is ever held, however much was written."""
    q = Queue.open(db)
    q.enqueue("head -c 10000000 /dev/zero; sleep 1", id="zeros")
    spawn_worker()
    wait_until(lambda: q.job("zeros").state == "processing", what="the job to start")
    proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "logs", "zeros", "-f"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    assert usage.ru_maxrss < 120_000, f"follower used {usage.ru_maxrss} KiB"
    q.close()


def test_follow_of_a_retried_job_follows_its_next_attempt(db, spawn_worker, tmp_path):
    q = Queue.open(db)
    configure(q, backoff_base=3)
    mark = tmp_path / "ran"
    q.enqueue(f"if [ -e {mark} ]; then echo second; else touch {mark}; echo first; exit 3; fi", id="flaky",
              max_retries=1)
    spawn_worker()
    wait_until(lambda: q.job("flaky").state == "failed", what="the first attempt to fail")
    follower = Follower(db, "flaky", "--follow")
    assert follower.wait() == 0
    assert [line for _, line in follower.lines] == [b"second\n"]
    assert q.job("flaky").state == "completed"
    q.close()


def test_follow_ends_with_130_on_ctrl_c(db, cli):
    q = Queue.open(db)
    configure(q, **{k.replace("-", "_"): v for k, v in FAST.items()})
    q.enqueue("echo never", id="waiting")
    follower = Follower(db, "waiting", "--follow")
    time.sleep(1.0)
    follower.proc.send_signal(signal.SIGINT)
    assert follower.wait() == 130
    assert b"Traceback" not in follower.err and follower.err == b""
    assert cli("logs", "waiting", "--attempt", "3", "-f").code == 2  # no such attempt: usage
    q.close()
