"""A worker: a thread that claims and runs jobs, one after the other, for its Pool (pool.py).

It claims a job with one atomic statement, runs it, and writes the result only if it still owns the
job. Short jobs are claimed and recorded in chains (chain.py); the rules of each state change are in
lifecycle.py; the pool of processes is in process_pool.py.
"""

from __future__ import annotations

import logging
import threading
import time

from .chain import CHAIN_SHORT, GIVE_BACK_WAIT, Chain, may_give_back
from .errors import NotFound, StorageError
from .lifecycle import SHUTDOWN_KILL, attempt_outcome
from .models import Job, Settings, WorkerInfo
from .outcome import Ended, Outcome
from .outage_log import OutageLog
from .runner import RunningJob
from .text import visible

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")
    from .pool import Pool

log = logging.getLogger("queuectl.worker")

RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # backoff while the database is unavailable, seconds


class Worker(threading.Thread):
    """One worker thread. run() is a flat loop of named steps, like RQ's Worker.work()."""

    def __init__(self, pool: "Pool", index: int) -> None:
        super().__init__(name=f"queuectl-worker-{index}", daemon=True)
        self.pool = pool
        self.id = f"{pool.host}:{pool.pid}:{pool.token}:{index}"
        self.retire = False  # set when the pool shrinks: exit after the current job
        self.job: Job | None = None
        self.running: RunningJob | None = None
        self.chain = Chain()
        self.unsure = False  # a claim may have been written without our hearing of it
        self.unheard: list[float] = []  # when flushes failed: each may have committed all the same
        self.registered = False
        self.failures = 0  # database errors in a row
        self.outage = OutageLog(log, f"worker {self.id}", RETRY_MAX)
        self.idle_since: float | None = None  # burst: when this worker first found nothing left to do
        self.burst_over = False

    def run(self) -> None:
        pool = self.pool
        job: Job | None = None  # a job claimed together with the previous one's result
        try:
            while job is not None or not (pool.stopping or self.retire or self.burst_over):
                try:  # the database may go away for a while (a restart): log, back off, go on
                    if not self.registered:
                        self.register()
                    if self.unsure and job is None:
                        self.release_unstarted()
                    settings = pool.settings()
                    if job is None and not self.wait_while_paused():
                        job = self.claim_or_idle(settings)
                    if job is not None:
                        job = self.execute(job, settings)
                        self.reached()
                except StorageError as exc:
                    job = None
                    self.back_off(exc)
        except Exception:  # a bug must not kill the thread silently
            log.exception("worker %s stopped on an error", self.id)
            pool.errors.append(f"worker {self.id} stopped on an error (logged above)")
        finally:
            if pool.stopping or self.burst_over:  # `worker stop` returns once the rows are gone: not before
                pool.queue.wait_for_hooks()      # the hooks, which the process waits for before it exits
            try:
                pool.queue.store.remove_worker(self.id)
            except Exception:
                pass
            pool.worker_exited(self)

    # the steps of run() ----------------------------------------------------------------------------
    def register(self) -> None:
        now = self.pool.queue.clock.now()
        self.pool.queue.store.register_worker(WorkerInfo(self.id, self.pool.host, self.pool.pid, None, now, now))
        self.registered = True

    def release_unstarted(self) -> None:
        """Give back the jobs this worker holds but never started (claimed as the connection broke)."""
        store, now = self.pool.queue.store, self.pool.queue.clock.now()
        cancelled = []
        for job in store.list_jobs(["processing"], 10_000, order="started"):
            state = store.release(job.id, self.id, job.attempts, now) if job.worker == self.id else None
            if state is not None:
                log.warning("job %s: claimed while the database connection broke; released unstarted", job.id)
            if state == "dead":
                cancelled.append(job.id)
        self.report_cancelled(cancelled)
        self.unsure = False

    def wait_while_paused(self) -> bool:
        """True if the pool is paused: this worker waited for a change."""
        if not self.pool.paused:
            return False
        self.pool.sleep(None)
        return True

    def claim_or_idle(self, settings: Settings) -> Job | None:
        """Claim a job; if there is none, wait for one, or see that the burst is over (burst_over)."""
        job = self.claim(settings)
        self.reached()
        if job is not None:
            self.idle_since = None
        elif self.pool.burst and self.pool.queue.store.next_due(self.pool.queues) is None and not self.pool.busy():
            self.leave_burst()
        else:
            self.idle_since = None
            self.pool.sleep(self.idle_wait(settings))
        return job

    def leave_burst(self) -> None:
        """Nothing is due and this pool runs nothing: the burst is over, unless a schedule is due or
        another worker's chain may still give jobs back; then look again shortly."""
        queue = self.pool.queue
        # A due schedule's job is made here if the heartbeat has not made it yet. Once that returns,
        # a firing the heartbeat had under way has committed (it held the schedule's row): look again.
        queue.fire_schedules()
        if queue.store.next_due(self.pool.queues) is not None:
            return
        if not self.chain_may_give_back():
            self.burst_over = True
            return
        self.idle_since = self.idle_since or time.monotonic()
        self.pool.sleep(CHAIN_SHORT / 5)

    def chain_may_give_back(self) -> bool:
        """See chain.may_give_back; not for more than GIVE_BACK_WAIT (a clock ahead on another host)."""
        if self.idle_since is not None and time.monotonic() - self.idle_since > GIVE_BACK_WAIT:
            return False
        latest = self.pool.queue.store.list_jobs(["processing"], 1, order="started")
        return may_give_back((latest[0].started_at or 0) if latest else None, self.pool.queue.clock.now())

    def back_off(self, exc: StorageError) -> None:
        """Wait a little longer after each error in a row."""
        self.failures += 1
        self.unsure = True  # a claim may have been written without our hearing of it
        self.outage.failed(exc)
        self.pool.sleep(min(RETRY_FIRST * 2 ** (self.failures - 1), RETRY_MAX))

    def reached(self) -> None:
        """The database answered: the errors in a row are over."""
        self.failures = 0
        self.outage.answered()

    # claim, run, record ----------------------------------------------------------------------------
    def persist(self, fn: Callable[[], T], what: str, settings: Settings) -> T:
        """fn() until the database takes it: the result of a job that ran must not be lost. Gives up
        only when the pool stops and the job's lease has run out meanwhile."""
        delay, since = RETRY_FIRST, time.monotonic()
        while True:
            try:
                result = fn()
            except StorageError as exc:
                if self.pool.stopping and time.monotonic() - since > settings.lease_timeout:
                    # its lease is gone: the job is taken back and run again; the exit code says so
                    problem = f"worker {self.id} stopped before it could {what}: {exc}"
                    log.error("%s; the job is taken back and run again", problem)
                    self.pool.errors.append(problem)
                    raise
                self.outage.failed(exc, what)
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if delay > RETRY_FIRST:
                self.reached()
            return result

    def idle_wait(self, settings: Settings) -> float:
        due = self.pool.queue.store.next_due(self.pool.queues)
        wait = settings.poll_interval
        if due is not None:
            wait = min(wait, max(0.0, due - self.pool.queue.clock.now()))
            if wait == 0 and self.pool.limited():  # due but held back by a limit: a freed slot wakes us
                wait = settings.poll_interval
        return wait

    def claim(self, settings: Settings) -> Job | None:
        if self.pool.stopping or self.retire:
            return None
        now = self.pool.queue.clock.now()
        # The SQL runs outside the pool lock: a busy database must not stall the heartbeat.
        job = self.pool.queue.store.claim(self.id, now, now + settings.lease_timeout, self.pool.queues)
        return self._hold(job, settings)

    def _hold(self, job: Job | None, settings: Settings) -> Job | None:
        """Make a job just claimed this worker's current one."""
        if job is None:
            return None
        timeout = job.timeout or settings.job_timeout or None
        # QUEUECTL_WORKER (unique to this pool) tells this attempt's processes from those of another
        # database's job with the same id and attempt, should its processes outlive us (see orphans)
        env = {"QUEUECTL_JOB_ID": job.id, "QUEUECTL_ATTEMPT": str(job.attempts), "QUEUECTL_WORKER": self.id,
               "QUEUECTL_QUEUE": job.queue}
        if job.env:  # the job's own variables, under ours (validation refuses our names); anything else
            env = {**job.env, **env} if isinstance(job.env, dict) else job.env  # the runner refuses
        running = RunningJob(job.command, timeout, settings.output_limit, env, job.cwd)
        with self.pool.lock:
            self.job, self.running = job, running
            if self.pool.killed:  # kill() came while we claimed: release this attempt at once
                running.kill(SHUTDOWN_KILL)
        return job

    def execute(self, job: Job, settings: Settings) -> Job | None:
        """Run the job and record its result (now, or with the next job of its chain: see chain.py).
        Unless the worker is stopping, retiring or paused, the next job is claimed in the same
        transaction and returned (else None). The worker's current job is the processing job that
        names it (see list_workers): no separate write per job keeps the workers table in step."""
        pool, chain = self.pool, self.chain
        # The start is logged at DEBUG only: a log record per job costs ~0.1 ms of CPU on short jobs
        # (the end is reported through on_job_end; see worker_log.print_job_end).
        if log.isEnabledFor(logging.DEBUG):
            log.debug("job %s started (attempt %d): %s", job.id, job.attempts, visible(job.command))
        assert self.running is not None
        began = time.monotonic()
        left = chain.time_left(began)
        result = self.running.run(pool.queue.clock.now, None if left is None else (left, self.flush))
        done = time.monotonic()

        def decide() -> tuple[Outcome, Settings]:
            current = pool.settings()
            return attempt_outcome(job, result, current), current

        outcome, settings = self.persist(decide, f"record job {job.id}", settings)
        with pool.lock:
            self.job, self.running = None, None
        chain.end(job, outcome)
        going_on = not (pool.stopping or self.retire or pool.paused)
        following = chain.next(done, going_on)
        if following is not None:
            return self._hold(following, settings)
        # After a job of a limited queue, one claim: a chain's further claims skip limited queues, and
        # walking past a backlog of their jobs for another queue's would cost more than the chain saves.
        return self.record(settings, chain.claim_size(done - began, going_on) if not pool.is_limited(job.queue)
                           else int(going_on))

    def flush(self) -> None:
        """The chain's time is up while a job runs: record the attempts that ended before it and give
        back the jobs not started, now rather than after it. Called in this worker's thread while
        the job runs, so it tries once: what fails is left for record() after the job."""
        try:
            self.record(None, 0, persist=False)
        except StorageError as exc:
            log.warning("worker %s: cannot record finished jobs yet: %s", self.id, exc)

    def record(self, settings: Settings | None, claim: int, persist: bool = True) -> Job | None:
        """Record the attempts that ended, give back the claimed jobs not started, and claim up to
        `claim` more, in one transaction; the first job claimed becomes the current one, the rest the
        backlog. If that fails: each result is written on its own, retried until the database takes
        it (the claims are left to release_unstarted), or, without persist, the StorageError is raised
        with nothing forgotten."""
        pool, store = self.pool, self.pool.queue.store
        settings = settings or pool.settings()
        ended, unstarted = self.chain.to_record()
        claimed = []
        try:
            now = pool.queue.clock.now()
            recorded, claimed, cancelled = store.record_and_claim(
                [Ended(j.id, j.attempts, o) for j, o in ended], self.id, now, now + settings.lease_timeout, claim,
                [(j.id, j.attempts) for j in unstarted], pool.queues)
        except StorageError as exc:
            self.unheard.append(now)  # it may have committed all the same, its answer lost
            if not persist:
                raise
            log.warning("worker %s: cannot record %s yet: %s", self.id, ", ".join(j.id for j, _ in ended), exc)
            self.unsure = True  # all of it may have been written unheard
            recorded, cancelled = self.record_one_by_one(ended, unstarted, settings, now)
        if self.unheard:  # a write of these failed but may have committed: what it wrote is reported
            recorded = [ok or self.written_unheard(j, o, settings) for (j, o), ok in zip(ended, recorded)]
            cancelled += [j.id for j in unstarted if j.id not in cancelled
                          and self.released_unheard(j, self.unheard, settings) == "dead"]
            self.unheard = []
        self.chain.recorded(claimed, time.monotonic())
        self.report(ended, recorded)
        self.report_cancelled(cancelled)
        if unstarted or pool.frees_slot(ended, claimed):
            store.notify("work")  # given back, or a limited queue has room again: idle workers look
        return self._hold(claimed[0], settings) if claimed else None

    def record_one_by_one(self, ended: list[tuple[Job, Outcome]], unstarted: list[Job],
                          settings: Settings, now: float) -> tuple[list[bool], list[str]]:
        """record()'s fallback: each result, then each release, retried until the database takes it.
        (Whether each was recorded; the released jobs a cancel ended dead.) The releases keep the
        failed write's `now`: a cancelled job given back by a write heard by no one is known by that
        finish time (record() then looks for what was written unheard)."""
        store = self.pool.queue.store
        recorded = [self.persist(lambda: store.finish(j.id, self.id, j.attempts, o), f"record job {j.id}", settings)
                    for j, o in ended]
        cancelled = [j.id for j in unstarted
                     if self.persist(lambda: store.release(j.id, self.id, j.attempts, now), f"release job {j.id}",
                                     settings) == "dead"]
        return recorded, cancelled

    def written_unheard(self, job: Job, outcome: Outcome, settings: Settings) -> bool:
        """Whether the write whose answer was lost recorded this attempt: its run, by this worker,
        ends at this outcome's time (a worker taking the job back writes a run ending at its own).
        Then its hook and on_job_end are still due; the job ran once."""

        def read() -> bool:
            try:
                runs = self.pool.queue.job(job.id, tail=0).runs  # their output is not needed
            except NotFound:  # pruned meanwhile
                return False
            return any(r.attempt == job.attempts and r.worker == self.id and r.finished_at == outcome.finished_at
                       for r in runs)

        return self.persist(read, f"read job {job.id}", settings)

    def released_unheard(self, job: Job, times: list[float], settings: Settings) -> str | None:
        """"dead" if a release whose answer was lost ended this job dead for a cancel: cancelled,
        never started, finished at the `now` of one of those writes (its on-dead hook is still due)."""

        def read() -> str | None:
            try:
                found = self.pool.queue.job(job.id, runs=False)
            except NotFound:
                return None
            mine = (found.state, found.last_error, found.started_at) == ("dead", "cancelled", None) \
                and found.finished_at in times
            return "dead" if mine else None

        return self.persist(read, f"read job {job.id}", settings)

    def report_cancelled(self, job_ids: list[str]) -> None:
        """Jobs claimed but never started, which a cancel ended dead as they were given back: their
        on-dead hook runs here, as for any job that reaches dead."""
        if job_ids:
            settings = self.pool.settings()
            for job_id in job_ids:
                self.pool.queue.hooks.fire(settings, job_id, "dead")

    def report(self, ended: list[tuple[Job, Outcome]], recorded: list[bool]) -> None:
        """Tell the pool (and on_job_end) how the recorded attempts ended."""
        pool = self.pool
        settings = pool.settings()
        for (job, outcome), ok in zip(ended, recorded):
            if not ok:
                log.warning("job %s: result dropped, the job was taken back (lease expired)", job.id)
            else:
                pool.queue.hooks.fire(settings, job.id, outcome.state)
                if pool.on_job_end is not None:
                    pool.on_job_end(job, outcome)
            if outcome.state == "failed":
                pool.queue.store.notify("work")  # a retry is scheduled: idle workers recompute their wait
            pool.job_finished(outcome.state)


def __getattr__(name: str) -> Any:
    """core.worker.Pool and .ProcessPool: where they were before pool.py and process_pool.py."""
    if name == "Pool":
        from .pool import Pool

        return Pool
    if name == "ProcessPool":
        from .process_pool import ProcessPool

        return ProcessPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # `python -m core.worker`: the entry point's old name (see process_pool)
    from .process_pool import main

    main()
