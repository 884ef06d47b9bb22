"""Live output: a pool's running jobs' output so far, pushed to the database for `logs --follow` and
the app's detail view, from any host.

One thread per pool looks at its running jobs a few times a second. A job that has run LIVE_AFTER
seconds and wrote something new since its last push gets one upsert of its `live` row: its kept
tails (output-limit per stream) and the bytes written in all per stream, so a reader knows what it
missed. At most one write per job per LIVE_EVERY seconds. The short jobs of chains end long before
LIVE_AFTER and write nothing. Once an attempt is recorded its row is deleted (the run row has the
final output). A failed write is logged once and never touches the job: it is tried again later.
"""

from __future__ import annotations

import logging
import threading
import time

from .errors import StorageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from .pool import Pool
    from .runner import RunningJob

log = logging.getLogger("queuectl.worker")

LIVE_AFTER = 0.5  # seconds a job runs before its output is pushed at all
LIVE_EVERY = 1.0  # seconds between two pushes of one job
LOOK_EVERY = 0.1  # seconds between looks at a job due for a push that wrote nothing new yet
IDLE_LOOK = 0.5  # seconds between looks while no job is due


class LivePusher:
    """The pool's live-output thread: run() until the pool is done."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.pushed: dict[tuple[str, int, str], float] = {}  # (job, attempt, worker) -> last drop tried
        self.failing = False  # a write failed and was logged: say nothing more until one succeeds

    def run(self) -> None:
        self._try(self.pool.queue.store.live_gc)  # rows a dead worker left behind
        while not self.pool.finished():
            wait = IDLE_LOOK
            try:
                wait = self.tick(time.monotonic())
            except Exception:  # a bug here must not stop the pool: live output is a convenience
                log.exception("live output: unexpected error")
            self.pool.wait_finished(wait)
        try:
            self.drop(time.monotonic(), force=True)
        except Exception:
            log.exception("live output: unexpected error")

    def tick(self, now: float) -> float:
        """Push what is due; drop the rows of attempts that ended. Returns the seconds until the next look."""
        with self.pool.lock:
            running = [(w.id, w.job, w.running) for w in self.pool.workers if w.job is not None and w.running]
        wait, current = IDLE_LOOK, set()
        for worker_id, job, job_run in running:
            key = (job.id, job.attempts, worker_id)
            current.add(key)
            due = self.due(job_run)
            if due is None or due > now:
                wait = min(wait, IDLE_LOOK if due is None else due - now)
            elif self.push(key, job_run, now):
                wait = min(wait, LIVE_EVERY)
            else:
                wait = min(wait, LOOK_EVERY)
        self.drop(now, keep=current)
        return max(0.01, wait)

    @staticmethod
    def due(job_run: RunningJob) -> float | None:
        """When this job may be pushed next (time.monotonic()), or None if it has not started."""
        if job_run.began is None:
            return None
        return job_run.began + LIVE_AFTER if job_run.live is None else job_run.live[0] + LIVE_EVERY

    def push(self, key: tuple[str, int, str], job_run: RunningJob, now: float) -> bool:
        """Write the job's output if it wrote something new; True if a write was tried."""
        found = job_run.live_output()
        if found is None:
            return False
        out_total, err_total, out, err = found
        job_run.live = (now, out_total, err_total)  # also on failure: tried again in LIVE_EVERY, not at once
        store = self.pool.queue.store
        if self._try(lambda: store.push_live(key[0], key[1], key[2], self.pool.queue.clock.now(),
                                             (out_total, err_total), out, err)):
            self.pushed.setdefault(key, 0.0)
        return True

    def drop(self, now: float, keep: set[tuple[str, int, str]] = frozenset(), force: bool = False) -> None:
        """Delete the rows of pushed attempts no longer running, once each is recorded (tried at
        most once a LIVE_EVERY per attempt while its record is not written yet)."""
        gone = [k for k, tried in self.pushed.items() if k not in keep and (force or now - tried >= LIVE_EVERY)]
        if not gone:
            return
        held: list[tuple[str, int, str]] = []
        if not self._try(lambda: held.extend(self.pool.queue.store.drop_live(gone))):
            held = gone
        for key in gone:
            if key in held:
                self.pushed[key] = now
            else:
                del self.pushed[key]

    def _try(self, write) -> bool:
        try:
            write()
        except StorageError as exc:
            if not self.failing:
                log.warning("live output not written (the jobs go on; tried again later): %s", exc)
                self.failing = True
            return False
        self.failing = False
        return True


def start(pool: Pool) -> threading.Thread:
    thread = threading.Thread(target=LivePusher(pool).run, name="queuectl-live", daemon=True)
    thread.start()
    return thread
