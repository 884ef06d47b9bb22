"""A pool of worker threads over one queue, with one heartbeat and one wake-up listener.

The heartbeat renews the leases of the jobs the pool's workers hold, takes back jobs whose workers
died (in any process; see LeaseWatch), and acts on cancel and stop requests.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from . import live
from .errors import StorageError
from .lifecycle import CANCELLED, LEASE_LOST, SHUTDOWN_KILL
from .models import Job, Settings
from .outage_log import OutageLog
from .outcome import Outcome
from .hosts import place_tag, this_host
from .queue import Queue
from .wake import listener_or_poll
from .worker import Worker

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Callable, Sequence

log = logging.getLogger("queuectl.worker")


def heartbeat_interval(settings: Settings) -> float:
    """Often enough that a live worker's lease never runs out between two beats."""
    return max(0.2, min(settings.lease_timeout / 4, 5.0))


class LeaseWatch:
    """Which expired leases a pool's heartbeat may take back. A lease runs out when its worker has
    not renewed it in time, and a live worker cannot renew while another writer holds the database
    (a bulk `enqueue -`, a large prune, a checkpoint): the checker, blocked by the same writer, then
    finds the lease expired the moment the lock is released, and the live worker's own renewal,
    blocked as long, wrote a lease that had run out by the time it committed. So a job is taken
    back only when its lease was seen expired, unchanged, at two heartbeats at least one interval
    apart, neither of them nor any between them having waited for the database: the live worker's
    next heartbeat, within one interval of the lock's release, renews it first."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, float | None], float] = {}  # (job, attempt, lease) -> first seen

    def confirm(self, expired: list[Job], waited: bool, interval: float) -> list[Job]:
        if waited:  # what was seen before or during a wait for the lock proves nothing
            self._seen = {}
            return []
        now, seen, confirmed = time.monotonic(), {}, []
        for job in expired:
            key = (job.id, job.attempts, job.lease_until)
            seen[key] = self._seen.get(key, now)
            if now - seen[key] >= interval:
                confirmed.append(job)
        self._seen = seen
        return confirmed


class Pool:
    """N worker threads over one Queue. start(), then stop() (graceful) or kill(); join()."""

    def __init__(self, queue: Queue, size: int, burst: bool = False,
                 on_job_end: Callable[[Job, Outcome], None] | None = None, queues: Sequence[str] | None = None) -> None:
        if queue.store.read_only:
            raise StorageError(f"{queue.location} is read-only: workers need to write to it")
        self.queue = queue
        self.burst = burst
        self.queues = list(queues) if queues else None  # the queues its workers serve; None: every queue
        self.on_job_end = on_job_end  # called in the worker's thread once an attempt's end is recorded
        self.host = this_host()
        self.pid = os.getpid()
        # where it runs (see on_this_host), then what distinguishes pools in one process (tests, the app)
        self.token = place_tag() + os.urandom(3).hex()
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
        self._listener = listener_or_poll(queue.store.listener)  # else poll: wake-ups are an optimisation
        self._threads: list[threading.Thread] = []
        self._settings: Settings | None = None
        self._settings_read = 0.0
        self._limits: dict[str, int] = {}  # queue -> limit, read with the settings
        self._leases = LeaseWatch()

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> "Pool":
        """Start the pool's threads and workers; a pool stopped already (a signal during start-up)
        starts nothing, so join() never returns while one of its threads still uses the queue."""
        with self.lock:
            if self.stopping:
                return self
        # Only the jobs of this host's dead workers now; the heartbeat takes back the others once
        # LeaseWatch confirms them.
        self.queue.recover_expired(lambda expired: ())
        if self.target > 0:  # here too, not only in the heartbeat thread: a burst waits for them
            self.queue.fire_owed_hooks()
        for name, target in (("heartbeat", self._heartbeat_loop), ("listener", self._listen_loop)):
            thread = threading.Thread(target=target, name=f"queuectl-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._threads.append(live.start(self))  # its own thread: a slow write never delays a heartbeat
        self.resize(self.target)
        if self.target == 0 and self.burst:
            self._done.set()
        return self

    def resize(self, size: int) -> None:
        """Grow now; shrink by retiring the newest workers once their current job ends."""
        size = max(0, size)
        with self.lock:
            if self.stopping:  # a stopped pool stays stopped: the app starts a new one
                return
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

    def finished(self) -> bool:
        """Every worker has exited (the pool's own threads then end)."""
        return self._done.is_set()

    def wait_finished(self, timeout: float) -> None:
        self._done.wait(timeout)

    # internals -------------------------------------------------------------------------------------
    def settings(self) -> Settings:
        """The settings, read again at most once per poll interval, and at once after a 'config'
        wake-up: a change reaches running workers within one poll without a read per job."""
        now = time.monotonic()
        cached = self._settings
        if cached is None or now - self._settings_read >= min(cached.poll_interval, 1.0):
            cached = self._settings = self.queue.settings()
            self._limits = {name: limit for name, (limit, _) in self.queue.store.queue_settings().items() if limit}
            self._settings_read = now
        return cached

    def limited(self) -> bool:
        """Whether some queue has a limit (as of the last settings read)."""
        return bool(self._limits)

    def is_limited(self, queue: str) -> bool:
        return queue in self._limits

    def frees_slot(self, ended: Sequence[tuple[Job, Outcome]], claimed: Sequence[Job]) -> bool:
        """Whether recording these attempts (and claiming these jobs with them) leaves a slot of a
        limited queue free: then idle workers are woken, and only then (a wake-up per job made the
        workers waiting for a full queue contend for the write lock)."""
        limits = self._limits
        if not limits:
            return False
        freed = sum(1 for job, _ in ended if job.queue in limits)
        return freed > sum(1 for job in claimed if job.queue in limits)

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
            if self.burst:
                self.wake.notify_all()  # idle peers re-check whether the burst is over

    def worker_exited(self, worker: Worker) -> None:
        with self.lock:
            self.workers.remove(worker)
            finished = not self.workers and (self.stopping or self.burst)
        if finished:
            self._done.set()

    def _listen_loop(self) -> None:
        while not self._done.is_set():
            events = self._listener.wait(5.0)
            if "config" in events:
                self._settings = None
            if "work" in events or "config" in events:
                with self.lock:
                    self.wake.notify_all()
            if "cancel" in events or "stop" in events:
                self._beat.set()

    def _heartbeat_loop(self) -> None:
        interval = 1.0
        outage = OutageLog(log, "heartbeat", interval)
        while not self._done.is_set():
            try:
                self._beat_once()
                interval = outage.retry = heartbeat_interval(self.settings())
                outage.answered()
            except Exception as exc:  # the database may be briefly unavailable: keep beating
                outage.failed(exc)
            self._beat.wait(self._until_next_beat(interval))
            self._beat.clear()

    def _until_next_beat(self, interval: float) -> float:
        """The heartbeat's wait: sooner when stopping, or when a schedule falls due before it."""
        if self.stopping:
            return 0.2
        try:
            due = self.queue.store.next_schedule_due() if self.target > 0 else None
        except Exception:  # the beat itself reports the database's troubles
            due = None
        left = None if due is None else due - self.queue.clock.now()
        return interval if left is None or left <= 0 else max(0.05, min(interval, left))  # past: one that failed

    def _beat_once(self) -> None:
        store = self.queue.store
        problem = store.replaced()  # first: once the file is gone, reading the settings fails
        if problem and not self.stopping:
            # Not reopened: the file now at the path is another queue (a new one, or a backup put
            # back), whose processing jobs this worker never held. Running jobs finish, into the old file.
            log.error("%s: stopping; running jobs finish, their results go to the removed file", problem)
            self.errors.append(f"{problem}; workers stopped")
            self.stop()
        settings = self.settings()
        now = self.queue.clock.now()
        with self.lock:
            ids = [w.id for w in self.workers]
            running = {w.job.id: w.running for w in self.workers if w.job is not None and w.running}
            waiting = {job.id: w for w in self.workers for job in list(w.chain.backlog)}  # claimed in a chain
        began = time.monotonic()
        held = store.renew_leases(ids, now, now + settings.lease_timeout)
        for job_id in running.keys() - held:  # taken back while this process did not answer (stopped,
            # suspended): another worker may run it already; this attempt's result would be dropped
            log.warning("job %s: its lease was lost while this worker did not answer: killing it", job_id)
            running[job_id].kill(LEASE_LOST)
        interval = heartbeat_interval(settings)
        waited = time.monotonic() - began > interval  # another writer held the database meanwhile
        for job_id in store.cancel_requested([*running, *waiting]):
            if job_id in running:
                log.info("job %s: cancel requested, killing its process group", job_id)
                running[job_id].kill(CANCELLED)
            else:  # not started: its worker gives it back instead (it then ends dead, cancelled)
                waiting[job_id].chain.cancelled.add(job_id)
        if not self.stopping and store.stop_requested(ids):
            log.info("stop requested: finishing running jobs, claiming no more")
            self.stop()
        # Without a worker (the app watching) renew_leases wrote nothing, so `waited` proves nothing:
        # only the jobs of this host's dead workers are taken back, as at start.
        self.queue.recover_expired(lambda expired: self._leases.confirm(expired, waited, interval) if ids else ())
        if self.target > 0 and not self.stopping:  # a pool with a worker fires due schedules and owed hooks
            self.queue.fire_schedules()
            self.queue.fire_owed_hooks()
        store.fold_counts()
