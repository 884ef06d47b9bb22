"""Workers: threads that claim and run jobs, in a pool with one heartbeat and one wake-up listener.

A worker thread claims a job with one atomic statement, runs it, and writes the result only if it
still owns the job. The pool's heartbeat thread renews the leases of the jobs its workers hold,
takes back jobs whose workers died (in any process), and acts on cancel and stop requests.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable, TypeVar

from .errors import StorageError
from .models import Job, Settings, WorkerInfo
from .queue import Queue, failure_outcome
from .runner import RunningJob, RunResult
from .store import Outcome
from .text import visible

log = logging.getLogger("queuectl.worker")
T = TypeVar("T")

SHUTDOWN_KILL = "killed: worker shut down"
RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # backoff while the database is unavailable, seconds


def heartbeat_interval(settings: Settings) -> float:
    """Often enough that a live worker's lease never runs out between two beats."""
    return max(0.2, min(settings.lease_timeout / 4, 5.0))


class Worker(threading.Thread):
    def __init__(self, pool: "Pool", index: int) -> None:
        super().__init__(name=f"queuectl-worker-{index}", daemon=True)
        self.pool = pool
        self.id = f"{pool.host}:{pool.pid}:{pool.token}:{index}"
        self.retire = False  # set when the pool shrinks: exit after the current job
        self.job: Job | None = None
        self.running: RunningJob | None = None

    def run(self) -> None:
        pool, store = self.pool, self.pool.queue.store
        registered, unsure, failures = False, False, 0
        try:
            while not (pool.stopping or self.retire):
                try:  # the database may go away for a while (a restart): log, back off, go on
                    if not registered:
                        now = pool.queue.clock.now()
                        store.register_worker(WorkerInfo(self.id, pool.host, pool.pid, None, now, now))
                        registered = True
                    if unsure:
                        self.release_unstarted()
                        unsure = False
                    if pool.paused:
                        pool.sleep(None)
                        continue
                    settings = pool.queue.settings()
                    job = self.claim(settings)
                    failures = 0
                    if job is None:
                        if pool.burst and store.next_due() is None and not pool.busy():
                            break
                        pool.sleep(self.idle_wait(settings))
                        continue
                    self.execute(job, settings)
                except StorageError as exc:
                    failures += 1
                    unsure = True  # a claim may have been written without our hearing of it
                    delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                    log.warning("worker %s: %s; retrying in %.1fs", self.id, exc, delay)
                    pool.sleep(delay)
        except Exception:  # a bug must not kill the thread silently
            log.exception("worker %s stopped on an error", self.id)
            pool.errors.append(self.id)
        finally:
            try:
                store.remove_worker(self.id)
            except Exception:
                pass
            pool.worker_exited(self)

    def release_unstarted(self) -> None:
        """Give back the jobs this worker holds but never started (claimed as the connection broke)."""
        store, now = self.pool.queue.store, self.pool.queue.clock.now()
        for job in store.list_jobs(["processing"], 10_000, order="started"):
            if job.worker == self.id and store.release(job.id, self.id, job.attempts, now):
                log.warning("job %s: claimed while the database connection broke; released unstarted", job.id)

    def persist(self, fn: Callable[[], T], what: str, settings: Settings) -> tuple[T, bool]:
        """fn() until the database takes it: the result of a job that ran must not be lost. Gives up
        only when the pool stops and the job's lease has run out meanwhile. Returns (result, retried)."""
        delay, since = RETRY_FIRST, time.monotonic()
        while True:
            try:
                return fn(), delay > RETRY_FIRST
            except StorageError as exc:
                if self.pool.stopping and time.monotonic() - since > settings.lease_timeout:
                    raise
                log.warning("worker %s: cannot %s yet: %s; retrying in %.1fs", self.id, what, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def idle_wait(self, settings: Settings) -> float:
        due = self.pool.queue.store.next_due()
        wait = settings.poll_interval
        if due is not None:
            wait = min(wait, max(0.0, due - self.pool.queue.clock.now()))
        return wait

    def claim(self, settings: Settings) -> Job | None:
        if self.pool.stopping or self.retire:
            return None
        now = self.pool.queue.clock.now()
        # The SQL runs outside the pool lock: a busy database must not stall the heartbeat.
        job = self.pool.queue.store.claim(self.id, now, now + settings.lease_timeout)
        if job is None:
            return None
        timeout = job.timeout or settings.job_timeout or None
        env = {"QUEUECTL_JOB_ID": job.id, "QUEUECTL_ATTEMPT": str(job.attempts)}
        running = RunningJob(job.command, timeout, settings.output_limit, env)
        with self.pool.lock:
            self.job, self.running = job, running
            if self.pool.killed:  # kill() came while we claimed: release this attempt at once
                running.kill(SHUTDOWN_KILL)
        return job

    def execute(self, job: Job, settings: Settings) -> None:
        pool, store = self.pool, self.pool.queue.store
        self.show_job(job.id)
        log.info("job %s started (attempt %d): %s", job.id, job.attempts, visible(job.command))
        assert self.running is not None
        result = self.running.run(pool.queue.clock.now)
        outcome, _ = self.persist(lambda: self.outcome(job, result, pool.queue.settings()), "read settings", settings)
        with pool.lock:
            self.job, self.running = None, None
        recorded, retried = self.persist(lambda: store.finish(job.id, self.id, job.attempts, outcome),
                                         f"record job {job.id}", settings)
        if not recorded:
            log.warning("job %s: result dropped, the job was %s", job.id,
                        "recorded before the connection broke, or taken back" if retried
                        else "taken back (lease expired)")
        else:
            if outcome.state == "completed":
                log.info("job %s completed in %.3fs", job.id, result.finished_at - result.started_at)
            else:
                log.info("job %s %s: %s", job.id, outcome.state, outcome.error)
        if outcome.state == "failed":
            store.notify("work")  # a retry is scheduled: idle workers recompute their wait
        self.show_job(None)
        pool.job_finished(outcome.state)

    def show_job(self, job_id: str | None) -> None:
        """Tell `worker list` what this worker runs; cosmetic, so a database error only logs."""
        try:
            self.pool.queue.store.set_worker_job(self.id, job_id)
        except StorageError as exc:
            log.warning("worker %s: %s", self.id, exc)

    def outcome(self, job: Job, result: RunResult, settings: Settings) -> Outcome:
        run = dict(exit_code=result.exit_code, error=result.error, started_at=result.started_at,
                   stdout=result.stdout, stderr=result.stderr)
        if result.ok:
            return Outcome("completed", None, finished_at=result.finished_at, **run)
        if result.error == "cancelled":
            return Outcome("dead", None, finished_at=result.finished_at, **run)
        return failure_outcome(job, settings, result.finished_at, **run)


class Pool:
    """N worker threads over one Queue. start(), then stop() (graceful) or kill(); join()."""

    def __init__(self, queue: Queue, size: int, burst: bool = False) -> None:
        self.queue = queue
        self.burst = burst
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.token = os.urandom(3).hex()  # distinguishes pools in one process (tests, the app)
        # Re-entrant: a signal handler (stop/kill on SIGINT) runs on the main thread, which may be
        # inside resize() holding this lock; a plain Lock would deadlock the process there.
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.workers: list[Worker] = []
        self.target = size
        self.stopping = False
        self.killed = False
        self.paused = False
        self.errors: list[str] = []
        self.completed = 0
        self.failed = 0
        self._next_index = 0
        self._done = threading.Event()
        self._beat = threading.Event()
        self._listener = queue.store.listener()
        self._threads: list[threading.Thread] = []
        self.on_change: Callable[[], None] | None = None

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> "Pool":
        self.queue.recover_expired()
        for name, target in (("heartbeat", self._heartbeat_loop), ("listener", self._listen_loop)):
            thread = threading.Thread(target=target, name=f"queuectl-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.resize(self.target)
        if self.target == 0 and self.burst:
            self._done.set()
        return self

    def resize(self, size: int) -> None:
        """Grow now; shrink by retiring the newest workers once their current job ends."""
        size = max(0, size)
        with self.lock:
            self.target = size
            alive = [w for w in self.workers if not w.retire]
            for worker in alive[size:]:
                worker.retire = True
            new = [Worker(self, self._index()) for _ in range(size - len(alive))]
            self.workers.extend(new)
            self.wake.notify_all()
        for worker in new:
            worker.start()

    def _index(self) -> int:
        self._next_index += 1
        return self._next_index

    def pause(self, paused: bool = True) -> None:
        with self.lock:
            self.paused = paused
            self.wake.notify_all()

    def stop(self) -> None:
        """Graceful: claim nothing more; running jobs finish and are recorded."""
        with self.lock:
            self.stopping = True
            self.wake.notify_all()
            if not self.workers:
                self._done.set()
        self._beat.set()

    def kill(self) -> None:
        """Stop now: kill running jobs; each is recorded as a failed attempt (retried or dead)."""
        self.stop()
        with self.lock:
            self.killed = True
            running = [w.running for w in self.workers if w.running is not None]
        for job in running:
            job.kill(SHUTDOWN_KILL)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every worker has exited; then stop the pool's own threads. True if done."""
        if not self._done.wait(timeout):
            return False
        self.stopping = True
        self._beat.set()
        self.queue.store.notify("")  # unblocks our own listener thread
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()
        return True

    # state for the UI ------------------------------------------------------------------------------
    def busy(self) -> bool:
        with self.lock:
            return any(w.job is not None for w in self.workers)

    def snapshot(self) -> list[tuple[str, Job | None]]:
        """(worker id, job it runs) for every live worker of this pool."""
        with self.lock:
            return [(w.id, w.job) for w in self.workers]

    @property
    def size(self) -> int:
        with self.lock:
            return len([w for w in self.workers if not w.retire])

    # internals -------------------------------------------------------------------------------------
    def sleep(self, timeout: float | None) -> None:
        with self.lock:
            if not self.stopping:
                self.wake.wait(timeout)

    def job_finished(self, state: str) -> None:
        with self.lock:
            if state == "completed":
                self.completed += 1
            else:
                self.failed += 1

    def worker_exited(self, worker: Worker) -> None:
        with self.lock:
            self.workers.remove(worker)
            finished = not self.workers and (self.stopping or self.burst)
        if finished:
            self._done.set()

    def _listen_loop(self) -> None:
        while not self._done.is_set():
            events = self._listener.wait(5.0)
            if "work" in events or "config" in events:
                with self.lock:
                    self.wake.notify_all()
            if "cancel" in events or "stop" in events:
                self._beat.set()

    def _heartbeat_loop(self) -> None:
        interval = 1.0
        while not self._done.is_set():
            try:
                self._beat_once()
                interval = heartbeat_interval(self.queue.settings())
            except Exception as exc:  # the database may be briefly unavailable: keep beating
                log.warning("heartbeat failed: %s", exc)
            self._beat.wait(interval if not self.stopping else 0.2)
            self._beat.clear()

    def _beat_once(self) -> None:
        store, settings = self.queue.store, self.queue.settings()
        now = self.queue.clock.now()
        with self.lock:
            ids = [w.id for w in self.workers]
            running = {w.job.id: w.running for w in self.workers if w.job is not None and w.running}
        store.renew_leases(ids, now, now + settings.lease_timeout)
        for job_id in store.cancel_requested(list(running)):
            log.info("job %s: cancel requested, killing its process group", job_id)
            running[job_id].kill("cancelled")
        if not self.stopping and store.stop_requested(ids):
            log.info("stop requested: finishing running jobs, claiming no more")
            self.stop()
        self.queue.recover_expired()
