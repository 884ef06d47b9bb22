"""Workers: threads that claim and run jobs, in a pool with one heartbeat and one wake-up listener.

A worker thread claims a job with one atomic statement, runs it, and writes the result only if it
still owns the job. The pool's heartbeat thread renews the leases of the jobs its workers hold,
takes back jobs whose workers died (in any process), and acts on cancel and stop requests.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Callable, TypeVar

from .errors import StorageError
from .models import Job, Settings, WorkerInfo
from .lifecycle import CANCELLED, SHUTDOWN_KILL, attempt_outcome
from .outcome import Ended, Outcome
from .queue import Queue, this_host
from .runner import RunningJob, describe_exit
from .text import visible
from .wake import listener_or_poll

log = logging.getLogger("queuectl.worker")
T = TypeVar("T")

RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # backoff while the database is unavailable, seconds
# Short jobs are claimed and recorded in chains: after a job that ran under CHAIN_SHORT seconds, its
# worker claims the next CHAIN jobs in one transaction, runs them one after the other, and records
# them together with the next claim: a transaction per CHAIN jobs instead of one per job, and on
# short jobs the transaction is a third of a worker's CPU. A chain lasts CHAIN_SHORT seconds at most
# from its claim: then the attempts that ended are written and the jobs not started are given back
# (while the running job goes on, if it is the slow one), so no job waits behind a slow one and no
# result waits longer than that to be written.
CHAIN, CHAIN_SHORT = 4, 0.05


def configure_logging() -> None:
    """The engine's log lines (warnings, cancels, stops) of a worker run in the foreground, on
    stderr. Records skip what the format never shows (the caller's frame, thread and process
    names): the logging HOWTO's optimisations."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging._srcfile = None  # type: ignore[attr-defined]  # documented in the HOWTO
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


_stamp = (-1, "")  # (second, its local time as text)


def print_job_end(job: Job, outcome: Outcome) -> None:
    """`worker start`'s line per finished attempt, on stderr, like its log lines. Not a log record:
    through logging (a LogRecord, a handler lock, two text layers and a flush) this one line took
    a tenth of the CPU a worker process spends on a short job. One write(2), and the time of day
    formatted once a second."""
    global _stamp
    now = time.time()
    if _stamp[0] != int(now):
        _stamp = (int(now), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(now))))
    if outcome.state == "completed":
        what = f"completed in {outcome.finished_at - (outcome.started_at or 0):.3f}s (attempt {job.attempts})"
    else:
        what = f"{outcome.state} (attempt {job.attempts}): {outcome.error}"
    line = f"{_stamp[1]},{int(now * 1000) % 1000:03d} job {job.id} {what}\n"
    try:
        os.write(2, line.encode(errors="backslashreplace"))
    except OSError:  # stderr closed, or a pipe nobody reads any more: the line is only for a watcher
        pass


def heartbeat_interval(settings: Settings) -> float:
    """Often enough that a live worker's lease never runs out between two beats."""
    return max(0.2, min(settings.lease_timeout / 4, 5.0))


class LeaseWatch:
    """Which expired leases a pool's heartbeat may take back. A lease runs out when its worker has
    not renewed it in time, and a live worker cannot renew while another writer holds the database
    (a bulk `enqueue -`, a large prune, a checkpoint): the checker, blocked by the same writer, then
    finds the lease expired the moment the lock is released. So a job is taken back only when its
    lease was seen expired, unchanged, at two heartbeats at least one interval apart, with no wait
    for the database between them: a live worker has renewed by then."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, float | None], float] = {}  # (job, attempt, lease) -> first seen

    def confirm(self, expired: list[Job], waited: bool, interval: float) -> list[Job]:
        now = time.monotonic()
        earlier = {} if waited else self._seen  # after a wait for the lock, every sighting starts again
        self._seen = {(job.id, job.attempts, job.lease_until): earlier.get((job.id, job.attempts, job.lease_until), now)
                      for job in expired}
        return [job for job in expired if now - self._seen[(job.id, job.attempts, job.lease_until)] >= interval]


class Worker(threading.Thread):
    def __init__(self, pool: "Pool", index: int) -> None:
        super().__init__(name=f"queuectl-worker-{index}", daemon=True)
        self.pool = pool
        self.id = f"{pool.host}:{pool.pid}:{pool.token}:{index}"
        self.retire = False  # set when the pool shrinks: exit after the current job
        self.job: Job | None = None
        self.running: RunningJob | None = None
        self.unsure = False  # a claim may have been written without our hearing of it
        self.backlog: list[Job] = []  # claimed together with the current job, not started yet
        self.ended: list[tuple[Job, Outcome]] = []  # ran, not recorded yet (earlier jobs of a chain)
        self.chain_until = 0.0  # time.monotonic() by which the current chain is written
        self.cancelled: set[str] = set()  # backlog jobs with a cancel request (set by the heartbeat)

    def run(self) -> None:
        pool, store = self.pool, self.pool.queue.store
        registered, failures = False, 0
        job: Job | None = None  # a job claimed together with the previous one's result
        done_since: float | None = None  # burst: when this worker first found nothing left to do
        try:
            while job is not None or not (pool.stopping or self.retire):
                try:  # the database may go away for a while (a restart): log, back off, go on
                    if not registered:
                        now = pool.queue.clock.now()
                        store.register_worker(WorkerInfo(self.id, pool.host, pool.pid, None, now, now))
                        registered = True
                    if self.unsure and job is None:
                        self.release_unstarted()
                        self.unsure = False
                    settings = pool.settings()
                    if job is None:
                        if pool.paused:
                            pool.sleep(None)
                            continue
                        job = self.claim(settings)
                        failures = 0
                        if job is None:
                            if pool.burst and store.next_due() is None and not pool.busy():
                                if not self.chain_may_give_back(done_since):
                                    break
                                done_since = done_since or time.monotonic()
                                pool.sleep(CHAIN_SHORT / 5)
                                continue
                            done_since = None
                            pool.sleep(self.idle_wait(settings))
                            continue
                        done_since = None
                    job = self.execute(job, settings)
                    failures = 0
                except StorageError as exc:
                    job = None
                    failures += 1
                    self.unsure = True  # a claim may have been written without our hearing of it
                    delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                    log.warning("worker %s: %s; retrying in %.1fs", self.id, exc, delay)
                    pool.sleep(delay)
        except Exception:  # a bug must not kill the thread silently
            log.exception("worker %s stopped on an error", self.id)
            pool.errors.append(f"worker {self.id} stopped on an error (logged above)")
        finally:
            try:
                store.remove_worker(self.id)
            except Exception:
                pass
            pool.worker_exited(self)

    def chain_may_give_back(self, waiting_since: float | None) -> bool:
        """Whether a worker leaving a burst should look again: another worker's chain gives back
        what it has not started within CHAIN_SHORT of its claim, so while a job was claimed more
        recently than that, it may. Not for more than a second (a clock ahead on another host)."""
        if waiting_since is not None and time.monotonic() - waiting_since > 1.0:
            return False
        latest = self.pool.queue.store.list_jobs(["processing"], 1, order="started")
        now = self.pool.queue.clock.now()
        return bool(latest) and (latest[0].started_at or 0) > now - 2 * CHAIN_SHORT

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
        return self._hold(self.pool.queue.store.claim(self.id, now, now + settings.lease_timeout), settings)

    def _hold(self, job: Job | None, settings: Settings) -> Job | None:
        """Make a job just claimed this worker's current one."""
        if job is None:
            return None
        timeout = job.timeout or settings.job_timeout or None
        # QUEUECTL_WORKER (unique to this pool) tells this attempt's processes from those of another
        # database's job with the same id and attempt, should its processes outlive us (see orphans)
        env = {"QUEUECTL_JOB_ID": job.id, "QUEUECTL_ATTEMPT": str(job.attempts), "QUEUECTL_WORKER": self.id}
        running = RunningJob(job.command, timeout, settings.output_limit, env)
        with self.pool.lock:
            self.job, self.running = job, running
            if self.pool.killed:  # kill() came while we claimed: release this attempt at once
                running.kill(SHUTDOWN_KILL)
        return job

    def execute(self, job: Job, settings: Settings) -> Job | None:
        """Run the job and record its result (now, or with the next job of its chain: see CHAIN).
        Unless the worker is stopping, retiring or paused, the next job is claimed in the same
        transaction and returned (else None). The worker's current job is the processing job that
        names it (see list_workers): no separate write per job keeps the workers table in step."""
        pool = self.pool
        # The start is logged at DEBUG only: a log record per job costs ~0.1 ms of CPU on short jobs
        # (the end is reported through on_job_end; see print_job_end).
        if log.isEnabledFor(logging.DEBUG):
            log.debug("job %s started (attempt %d): %s", job.id, job.attempts, visible(job.command))
        assert self.running is not None
        began = time.monotonic()
        on_slow = (max(0.0, self.chain_until - began), self.flush) if self.backlog or self.ended else None
        result = self.running.run(pool.queue.clock.now, on_slow)
        done = time.monotonic()

        def decide() -> tuple[Outcome, Settings]:
            current = pool.settings()
            return attempt_outcome(job, result, current), current

        (outcome, settings), _ = self.persist(decide, "read settings", settings)
        with pool.lock:
            self.job, self.running = None, None
        self.ended.append((job, outcome))
        going_on = not (pool.stopping or self.retire or pool.paused)
        if going_on and self.backlog and done < self.chain_until and not self.cancelled:  # run the next now
            return self._hold(self.backlog.pop(0), settings)
        return self.record(settings, (CHAIN if done - began < CHAIN_SHORT else 1) if going_on else 0)

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
        self.cancelled.clear()  # the backlog is given back below: a cancelled job in it ends dead
        ended, unstarted = self.ended, self.backlog
        retried, claimed = False, []
        try:
            now = pool.queue.clock.now()
            recorded, claimed = store.record_and_claim(
                [Ended(j.id, j.attempts, o) for j, o in ended], self.id, now, now + settings.lease_timeout, claim,
                [(j.id, j.attempts) for j in unstarted])
        except StorageError as exc:
            if not persist:
                raise
            log.warning("worker %s: cannot record %s yet: %s", self.id, ", ".join(j.id for j, _ in ended), exc)
            self.unsure, retried = True, True  # all of it may have been written unheard
            recorded = [self.persist(lambda: store.finish(j.id, self.id, j.attempts, o), f"record job {j.id}",
                                     settings)[0] for j, o in ended]
            for j in unstarted:
                self.persist(lambda: store.release(j.id, self.id, j.attempts, pool.queue.clock.now()),
                             f"release job {j.id}", settings)
        self.ended, self.backlog = [], claimed[1:]
        self.chain_until = time.monotonic() + CHAIN_SHORT
        for (job, outcome), ok in zip(ended, recorded):
            if not ok:
                log.warning("job %s: result dropped, the job was %s", job.id,
                            "recorded before the connection broke, or taken back" if retried
                            else "taken back (lease expired)")
            elif pool.on_job_end is not None:
                pool.on_job_end(job, outcome)
            if outcome.state == "failed":
                store.notify("work")  # a retry is scheduled: idle workers recompute their wait
            pool.job_finished(outcome.state)
        if unstarted:
            store.notify("work")  # given back: idle workers take them
        return self._hold(claimed[0], settings) if claimed else None


class Pool:
    """N worker threads over one Queue. start(), then stop() (graceful) or kill(); join()."""

    def __init__(self, queue: Queue, size: int, burst: bool = False,
                 on_job_end: Callable[[Job, Outcome], None] | None = None) -> None:
        if queue.store.read_only:
            raise StorageError(f"{queue.location} is read-only: workers need to write to it")
        self.queue = queue
        self.burst = burst
        self.on_job_end = on_job_end  # called in the worker's thread once an attempt's end is recorded
        self.host = this_host()
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
        self._listener = listener_or_poll(queue.store.listener)  # else poll: wake-ups are an optimisation
        self._threads: list[threading.Thread] = []
        self._settings: Settings | None = None
        self._settings_read = 0.0
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

    # internals -------------------------------------------------------------------------------------
    def settings(self) -> Settings:
        """The settings, read again at most once per poll interval, and at once after a 'config'
        wake-up: a change reaches running workers within one poll without a read per job."""
        now = time.monotonic()
        cached = self._settings
        if cached is None or now - self._settings_read >= min(cached.poll_interval, 1.0):
            cached = self._settings = self.queue.settings()
            self._settings_read = now
        return cached

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
        while not self._done.is_set():
            try:
                self._beat_once()
                interval = heartbeat_interval(self.settings())
            except Exception as exc:  # the database may be briefly unavailable: keep beating
                log.warning("heartbeat failed: %s", exc)
            self._beat.wait(interval if not self.stopping else 0.2)
            self._beat.clear()

    def _beat_once(self) -> None:
        store, settings = self.queue.store, self.settings()
        problem = store.replaced()
        if problem and not self.stopping:
            # Not reopened: the file now at the path is another queue (a new one, or a backup put
            # back), whose processing jobs this worker never held. Running jobs finish, into the old file.
            log.error("%s: stopping; running jobs finish, their results go to the removed file", problem)
            self.errors.append(f"{problem}; workers stopped")
            self.stop()
        now = self.queue.clock.now()
        with self.lock:
            ids = [w.id for w in self.workers]
            running = {w.job.id: w.running for w in self.workers if w.job is not None and w.running}
            waiting = {job.id: w for w in self.workers for job in list(w.backlog)}  # claimed in a chain
        began = time.monotonic()
        store.renew_leases(ids, now, now + settings.lease_timeout)
        interval = heartbeat_interval(settings)
        waited = time.monotonic() - began > interval  # another writer held the database meanwhile
        for job_id in store.cancel_requested([*running, *waiting]):
            if job_id in running:
                log.info("job %s: cancel requested, killing its process group", job_id)
                running[job_id].kill(CANCELLED)
            else:  # not started: its worker gives it back instead (it then ends dead, cancelled)
                waiting[job_id].cancelled.add(job_id)
        if not self.stopping and store.stop_requested(ids):
            log.info("stop requested: finishing running jobs, claiming no more")
            self.stop()
        self.queue.recover_expired(lambda expired: self._leases.confirm(expired, waited, interval))


class ProcessPool:
    """N workers as N OS processes, each a Pool of one: jobs start in parallel instead of taking
    turns on one interpreter lock. Same start/stop/kill/join as Pool.

    Children are forked when this process runs no other thread (the CLI: instant, nothing to
    import again), else started as `python -m core.worker`. They ignore SIGINT (a terminal's
    Ctrl-C reaches the whole process group; the parent decides) and take SIGTERM from the parent:
    the first finishes the running job, the second kills it. A child whose parent is gone stops
    as if told to."""

    def __init__(self, location: str, size: int, burst: bool = False) -> None:
        self.location = location
        self.size = size
        self.burst = burst
        self.children: list = []  # multiprocessing.Process or subprocess.Popen
        self.errors: list[str] = []
        self._signals = 0

    def start(self) -> "ProcessPool":
        # SIGINT/SIGTERM wait until every child exists: the parent's handler then reaches them all,
        # and a child never runs the parent's handler (it unblocks them once its own are set).
        import signal

        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            if self._signals == 0:  # stopped before it started: start nothing
                self._start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self

    def _start(self) -> None:
        if threading.active_count() == 1 and hasattr(os, "fork"):
            import multiprocessing

            context = multiprocessing.get_context("fork")
            parent = os.getpid()
            self.children = [context.Process(target=_child, args=(self.location, self.burst, parent),
                                             name=f"queuectl-worker-{i + 1}") for i in range(self.size)]
            for child in self.children:
                child.start()
        else:
            import subprocess

            # The location goes on the child's stdin, not in its environment, which its jobs inherit:
            # a PostgreSQL URL may hold a password.
            args = [sys.executable, "-m", "core.worker", "--location-on-stdin"] + (["--burst"] if self.burst else [])
            self.children = []
            for _ in range(self.size):
                child = subprocess.Popen(args, stdin=subprocess.PIPE)
                child.stdin.write(self.location.encode() + b"\n")
                child.stdin.close()
                self.children.append(child)

    def _signal_children(self) -> None:
        import signal

        for child in self.children:
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Graceful: every child finishes its running job and exits."""
        if self._signals == 0:
            self._signals = 1
            self._signal_children()

    def kill(self) -> None:
        """Kill running jobs (each recorded as a failed attempt), then exit."""
        self.stop()
        if self._signals == 1:
            self._signals = 2
            self._signal_children()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for child in self.children:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if hasattr(child, "join"):
                child.join(remaining)
                if child.exitcode is None:
                    return False
            else:
                try:
                    child.wait(remaining)
                except Exception:  # subprocess.TimeoutExpired
                    return False
        codes = [getattr(c, "exitcode", None) if hasattr(c, "join") else c.returncode for c in self.children]
        self.errors = [f"worker process {c.pid} ended with {describe_exit(code)}"
                       for c, code in zip(self.children, codes) if code]
        return True


def _child(location: str, burst: bool, parent: int) -> None:
    """One worker process of a ProcessPool: a Pool of one. Exits with 1 if a worker failed."""
    import signal

    with Queue.open(location) as queue:  # its own connections: nothing of the parent's is used
        pool = Pool(queue, 1, burst=burst, on_job_end=print_job_end)
        signals = {"n": 0}

        def on_term(signum: int, frame: object) -> None:
            signals["n"] += 1
            pool.stop() if signals["n"] == 1 else pool.kill()

        # SIGINT: a handler that does nothing rather than SIG_IGN, which jobs would inherit
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, on_term)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked by the parent
        pool.start()
        while not pool.join(timeout=0.5):
            if os.getppid() != parent and not pool.stopping:
                log.warning("worker process %d: parent gone, stopping", os.getpid())
                pool.stop()
    sys.exit(1 if pool.errors else 0)


def main(argv: list[str] | None = None) -> None:
    """`python -m core.worker [--burst] [--location-on-stdin]`: one worker process on $QUEUECTL_DB, or on
    the location read from the first line of stdin."""
    argv = sys.argv[1:] if argv is None else argv
    configure_logging()
    if "--location-on-stdin" in argv:
        location = sys.stdin.readline().rstrip("\n")
    else:
        location = os.environ["QUEUECTL_DB"]
    _child(location, "--burst" in argv, os.getppid())


if __name__ == "__main__":
    main()
