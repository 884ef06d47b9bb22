"""The queue as its users see it: enqueue, inspect, retry, cancel, prune and settings."""

from __future__ import annotations

import os
import time

from .clock import SYSTEM, Clock
from .errors import Conflict, IdTaken, InvalidInput, InvalidItem, ItemConflict, ItemError, NotFound, StorageError
from .models import FINISHED, PRUNED, SETTINGS, STATES, Figures, Job, JobSpec, QueueInfo, Run, Settings, WorkerInfo, setting_rule
from .lifecycle import cancel_step, expired_outcome, failure_outcome
from .hosts import on_this_host, process_exists, worker_gone_from_this_host
from .opening import default_location, open_store
from .validate import check_id, check_queue, job_spec
from . import schedules as scheduling
from .schedules import Schedule

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

    T = TypeVar("T")
    from .hooks import Hooks
    from .store import Store

MAX_LIMIT = 2**63 - 1
MAX_QUEUE_LIMIT = 1_000_000


def new_id() -> str:
    return os.urandom(6).hex()  # 48 random bits, as uuid4().hex[:12] gave, without importing uuid


class Queue:
    """A queue in one database. Thread-safe; open once and share."""

    def __init__(self, store: Store, clock: Clock = SYSTEM) -> None:
        self.store = store
        self.clock = clock
        self._hooks: Hooks | None = None

    @classmethod
    def open(cls, location: str | None = None, clock: Clock = SYSTEM, create: bool = True) -> "Queue":
        """Open the queue at a SQLite path or a postgresql:// URL (None: the default location).
        create: a missing SQLite file is made (in an existing folder; the default location's folders
        are made too), and a file this user cannot write is refused. create=False: the file must
        exist, and one that cannot be written is opened read-only (writes raise StorageError)."""
        if location is None and not os.environ.get("QUEUECTL_DB"):
            return cls(open_store(default_location(), create, make_folder=True), clock)
        return cls(open_store(location or default_location(), create), clock)

    @property
    def location(self) -> str:
        return self.store.location

    @property
    def hooks(self) -> Hooks:
        """The completion hooks this process runs (made on first use: most commands never fire one)."""
        if self._hooks is None:
            from .hooks import Hooks

            self._hooks = Hooks(self)
        return self._hooks

    def wait_for_hooks(self) -> None:
        """Until the hooks fired by this process have ended (each within hook-timeout)."""
        if self._hooks is not None:
            self._hooks.wait()

    def close(self) -> None:
        """Wait for the hooks fired, then close the database."""
        self.wait_for_hooks()
        self.store.close()

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # enqueue ---------------------------------------------------------------------------------------
    def enqueue(self, command: str, **fields: Any) -> Job:
        """Enqueue one job. fields: id, max_retries, priority, run_at (ISO 8601), delay, timeout, queue,
        cwd (an absolute path), env (a dict of names to strings), after (job ids), unique_key (then the
        unfinished job that holds the key is returned if there is one)."""
        try:
            job_id = self.enqueue_many([{"command": command, **fields}])[0]
        except ItemError as exc:  # one job: the reason alone, no "item 1: "
            raise exc.alone() from None
        return self.job(job_id)

    def enqueue_many(
        self, objects: Iterable[Mapping[str, Any]], progress: Callable[[int], None] | None = None,
        existing: dict[int, str] | None = None,
    ) -> list[str]:
        """Validate every job, then insert all in one transaction, or none. Returns the ids. A job
        whose unique_key an unfinished job holds is not inserted: its place in the ids holds that
        job's id, and `existing` (if given) is filled with {index: that id}.
        Raises InvalidItem (with the index) or Conflict (an id is taken). progress(n) is told
        how many jobs are done, now and then."""
        now = self.clock.now()
        specs, given = self._specs(objects, now, progress)
        if not specs:
            return []
        self._check_after(specs, given)
        ids = [s.id or new_id() for s in specs]
        for _ in range(3):
            try:
                held = self.store.insert_jobs(specs, ids, now)
                break
            except IdTaken as exc:
                if exc.job_id in given:
                    raise ItemConflict(given[exc.job_id], f"job id {exc.job_id!r} is already taken") from None
                ids = [s.id or new_id() for s in specs]  # a generated id collided (or a key was taken): again
        else:
            raise StorageError("could not generate unique job ids")
        if len(held) < len(ids):
            self.store.notify("work")
        if existing is not None:
            existing.update(held)
        if progress is not None:
            progress(len(ids))
        return [held.get(index, job_id) for index, job_id in enumerate(ids)]

    def _specs(self, objects: Iterable[Mapping[str, Any]], now: float,
               progress: Callable[[int], None] | None) -> tuple[list[JobSpec], dict[str, int]]:
        """Every object validated, and the index of each id given; InvalidItem for the first bad one."""
        settings = self.settings()
        specs: list[JobSpec] = []
        given: dict[str, int] = {}
        for index, obj in enumerate(objects):
            try:
                spec = job_spec(obj, settings, now)
            except InvalidInput as exc:
                raise InvalidItem(index, str(exc)) from None
            if spec.id is not None:
                if spec.id in given:
                    raise InvalidItem(index, f"id {spec.id!r} is also used by item {given[spec.id] + 1}",
                                      given[spec.id])
                given[spec.id] = index
            specs.append(spec)
            if progress is not None and index % 5000 == 0:
                progress(index)
        return specs, given

    def _check_after(self, specs: list[JobSpec], given: dict[str, int]) -> None:
        """Each id in `after` is a job that exists or one earlier in the same input: no cycle can form."""
        outside: dict[str, int] = {}
        for index, spec in enumerate(specs):
            for after_id in spec.after:
                if after_id in given:
                    if given[after_id] >= index:
                        raise InvalidItem(index, f"after: job {after_id!r} is not earlier in the input")
                else:
                    outside.setdefault(after_id, index)
        if outside:
            found = self.store.existing_ids(list(outside))
            missing = [a for a in outside if a not in found]
            if missing:
                raise InvalidItem(outside[missing[0]], f"after: no job {missing[0]!r}")

    def _with_waiting_on(self, jobs: list[Job]) -> list[Job]:
        waiting = [job.id for job in jobs if job.waiting]
        if not waiting:
            return jobs
        found = self.store.waiting_on(waiting)
        return [job._replace(waiting_on=tuple(found.get(job.id, ()))) if job.waiting else job for job in jobs]

    # inspect ---------------------------------------------------------------------------------------
    def job(self, job_id: str, runs: bool = True, tail: int | None = None, live: bool = False,
            output_of: int | None = None) -> Job:
        """One job, with its attempts (runs=True); tail=N reads only the last N bytes of each
        attempt's stdout and stderr (Run.stdout_unread and stderr_unread count the rest). live=True:
        a running attempt is the last run (Run.running), with the output its worker pushed so far.
        output_of=N reads the output of the Nth stored attempt only (-1: the last stored one); the
        others come without theirs, counted as unread."""
        job = self.store.get_job(job_id, with_runs=runs, tail=tail, output_of=output_of)
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        if live and job.state == "processing":
            view = self.store.live_view(job_id)
            if view is not None and view.state == "processing" and view.attempts == job.attempts:
                out, err = view.stdout or b"", view.stderr or b""
                run = Run(job.id, len(job.runs) + 1, job.attempts, job.worker, job.started_at, None, None, None,
                          out, err, view.stdout_total - len(out), view.stderr_total - len(err), running=True)
                job = job._replace(runs=(*job.runs, run))
        return self._with_waiting_on([job])[0]._replace(needed_by=tuple(self.store.dependents(job_id)))

    def jobs(
        self,
        state: str | Sequence[str] | None = None,
        limit: int = 50,
        search: str | None = None,
        order: str = "created",
        queue: str | Sequence[str] | None = None,
    ) -> list[Job]:
        """Jobs newest first (order='created'), or 'claim' (next to run first), 'finished', 'started';
        queue: only those of this queue (or these)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit must be an integer >= 1, got {limit!r}")
        # SQLite binds at most a signed 64-bit integer (and reads a negative LIMIT as "no limit")
        return self._with_waiting_on(self.store.list_jobs(self._states(state), min(limit, MAX_LIMIT), search or None,
                                                          order, self._queues(queue)))

    def count(self, state: str | Sequence[str] | None = None, search: str | None = None,
              queue: str | Sequence[str] | None = None) -> int:
        return self.store.count_jobs(self._states(state), search or None, self._queues(queue))

    @staticmethod
    def _queues(queue: str | Sequence[str] | None) -> list[str] | None:
        if queue is None:
            return None
        return [check_queue(q) for q in ([queue] if isinstance(queue, str) else queue)] or None

    @staticmethod
    def _states(state: str | Sequence[str] | None) -> list[str] | None:
        if state is None:
            return None
        states = [state] if isinstance(state, str) else list(state)
        for s in states:
            if s not in STATES:
                raise InvalidInput(f"unknown state {s!r}; valid states: {', '.join(STATES)}")
        return states

    def counts(self) -> dict[str, int]:
        """Jobs per state, every state present."""
        found = self.store.counts()
        return {s: found.get(s, 0) for s in STATES}

    def figures(self, per_queue: bool = False, by_queue: bool = True) -> Figures:
        """Counts, live workers, latency and finished totals: the one place they are computed.
        per_queue: each queue's latency too (the metrics), a few seeks per queue. by_queue=False:
        no queues and no finished totals (kept per queue), whose cost grows with the queues."""
        now = self.clock.now()
        queues, latencies = self.queues() if by_queue or per_queue else [], {}
        due = self.store.next_due()
        latency = 0.0 if due is None else max(0.0, now - due)
        for info in queues if per_queue else ():
            due = self.store.next_due([info.name]) if info.counts["pending"] or info.counts["failed"] else None
            latencies[info.name] = 0.0 if due is None else max(0.0, now - due)
        finished = self.store.finished_totals() if by_queue or per_queue else {}
        return Figures(now, self.counts(), self.workers(), latency, finished, queues, latencies)

    def completed_per_minute(self) -> int:
        return self.store.completed_since(self.clock.now() - 60)

    def workers(self) -> list[WorkerInfo]:
        """Live workers: heartbeat within the lease timeout, and for this host's workers a process
        that still exists. One killed by SIGKILL cannot remove itself; its last heartbeat would keep
        it listed, and `worker stop` waiting for it, for up to lease-timeout."""
        found = self.store.list_workers(self.clock.now() - self.settings().lease_timeout)
        return [w for w in found if not on_this_host(w.id) or process_exists(w.pid)]

    # queues ----------------------------------------------------------------------------------------
    def queues(self) -> list[QueueInfo]:
        """Every queue that has jobs, a limit or a pause, by name."""
        counts, settings = self.store.queue_counts(), self.store.queue_settings()
        names = sorted({q for q, by_state in counts.items() if any(by_state.values())} | set(settings))
        return [QueueInfo(name, {s: counts.get(name, {}).get(s, 0) for s in STATES}, *settings.get(name, (0, False)))
                for name in names]

    def set_queue_limit(self, name: str, limit: Any) -> int:
        """At most `limit` jobs of the queue processing at once (0: no limit). Raises InvalidInput."""
        check_queue(name)
        if isinstance(limit, str) and limit.strip().isdigit():
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_QUEUE_LIMIT:
            raise InvalidInput(f"a queue's limit must be an integer from 0 (no limit) to {MAX_QUEUE_LIMIT},"
                               f" got {limit!r}")
        self.store.set_queue(check_queue(name), limit=limit)
        self.store.notify("config")  # pools read the limits again; a raised limit frees slots
        return limit

    def pause_queue(self, name: str, paused: bool = True) -> None:
        """A paused queue's jobs are not claimed (running ones finish); resume with paused=False."""
        self.store.set_queue(check_queue(name), paused=paused)
        self.store.notify("config")  # pools read the queues again, and idle workers look for work

    def resume_queue(self, name: str) -> None:
        self.pause_queue(name, False)

    # change ----------------------------------------------------------------------------------------
    def retry_dead(self, job_ids: Sequence[str] | None = None) -> list[str]:
        """Dead jobs back to pending with attempts reset; None retries every dead job. Returns the ids
        now pending (why_still_dead says why a named one is not). Raises NotFound / Conflict (and
        changes nothing) if a named job is missing or not dead."""
        if job_ids is not None:
            for job_id in job_ids:
                job = self.job(job_id, runs=False)
                if job.state != "dead":
                    raise Conflict(f"job {job_id!r} is {job.state}, not dead")
        moved = self.store.requeue_dead(job_ids, self.clock.now())
        if moved:
            self.store.notify("work")
        return moved

    def why_still_dead(self, job_id: str) -> str:
        """Why retry_dead left a job it was named dead (a dependency still dead, its unique key held),
        as the CLI and the app say it."""
        job = self.job(job_id, runs=False)
        if job.state != "dead":
            why = f"it is {job.state} now"
        elif job.waiting_on and (job.last_error or "").startswith("dependency "):
            why = job.last_error or ""
        elif job.unique_key is not None:
            why = f"an unfinished job holds its unique_key {job.unique_key!r}"
        else:
            why = "it was retried and died again"
        return f"job {job_id!r} stays dead: {why}"

    def cancel(self, job_id: str) -> str:
        """Cancel a job: 'cancelled' if it was waiting, 'requested' if it runs (its worker kills
        the process group and marks it dead). Raises Conflict if it already finished."""
        for _ in range(3):  # the job may change state between the read and the write
            job = self.job(job_id, runs=False)
            step = cancel_step(job.state)
            if step == "refuse":
                raise Conflict(f"job {job_id!r} is already {job.state}")
            if step == "request":
                if self.store.request_cancel(job_id):
                    self.store.notify("cancel")
                    return "requested"
            elif self.store.cancel_waiting(job_id, self.clock.now()):
                self.store.notify("cancel")  # a worker's heartbeat runs its on-dead hook, now
                return "cancelled"
        raise Conflict(f"job {job_id!r} keeps changing state; try again")

    def prune(self, state: str | Sequence[str], older_than: float) -> int:
        """Delete completed or dead jobs (a state or a list of them) that finished more than
        older_than seconds ago."""
        states = [state] if isinstance(state, str) else list(state)
        for one in states:
            if one not in FINISHED:
                raise InvalidInput(f"prune takes --state completed or dead, got {one!r}")
        return self.store.prune(states, self.clock.now() - older_than)

    def recover_expired(self, confirm: Callable[[list[Job]], Iterable[Job]] | None = None) -> list[str]:
        """Take back jobs whose lease ran out: the attempt counts as failed. A job whose worker ran
        on this host and whose process is gone is taken back at once. Any other is taken back only
        if confirm (given the expired jobs, it returns those to take back) says so: an expired lease
        alone may mean a live worker that could not write (see LeaseWatch in pool.py). Without
        confirm, every expired job is taken back. Each only if its lease is still the one seen."""
        now = self.clock.now()
        expired = self.store.expired(now)
        if not expired:
            return []
        gone = {job.id for job in expired if job.worker and worker_gone_from_this_host(job.worker)}
        others = [job for job in expired if job.id not in gone]
        taken = [job for job in expired if job.id in gone] + list(others if confirm is None else confirm(others))
        settings = self.settings()
        recovered = []
        for job in taken:
            outcome = expired_outcome(job, bool(self.store.cancel_requested([job.id])), settings, now)
            if self.store.finish(job.id, job.worker or "", job.attempts, outcome, lease_seen=job.lease_until):
                recovered.append(job.id)
                if job.worker and on_this_host(job.worker):  # its worker gone, or alive but not answering
                    from .orphans import stop_job_processes  # /proc is read only here: rarely

                    # Once taken back, never before: a lease renewed meanwhile keeps its job alive
                    # (killed first, a live job ran twice). Its retry waits for the backoff.
                    stop_job_processes(job.id, job.attempts, job.worker)
                self.hooks.fire(settings, job.id, outcome.state)
        if recovered:
            self.store.notify("work")
        return recovered

    def fire_owed_hooks(self) -> None:
        """Run the hooks owed for transitions recorded outside a worker (a cancel of a waiting job).
        Only pools call this: a hook runs where workers run, never in whoever cancels (on
        PostgreSQL, any role that may write the settings would choose what that process runs)."""
        owed = self.store.take_owed_hooks()
        if owed:
            settings = self.settings()
            for job_id, state in owed:
                self.hooks.fire(settings, job_id, state)

    # schedules (core/schedules.py) ---------------------------------------------------------------
    def add_schedule(self, name: str, cron: str, job: Mapping[str, Any], tz: str = "UTC") -> Schedule:
        """Enqueue a job made from `job` (enqueue fields but id and run_at) each time cron matches in tz."""
        return scheduling.add(self, name, cron, dict(job), tz)

    def schedules(self) -> list[Schedule]:
        return self.store.schedules()

    def pause_schedule(self, name: str, paused: bool = True) -> None:
        scheduling.set_paused(self, name, paused)

    def remove_schedule(self, name: str) -> None:
        scheduling.remove(self, name)

    def fire_schedules(self) -> list[str]:
        return scheduling.fire_due(self)

    # settings --------------------------------------------------------------------------------------
    def settings(self) -> Settings:
        return Settings.from_mapping(self.store.read_settings())

    def config(self) -> dict[str, int | float | str]:
        return self.settings().as_dict()

    def get_setting(self, key: str) -> int | float | str:
        setting_rule(key)
        return self.config()[key]

    def set_setting(self, key: str, value: Any) -> int | float | str:
        """Validate and store a setting; returns the parsed value. Raises InvalidInput."""
        parsed = setting_rule(key).parse(value)
        self.store.write_setting(key, repr(parsed) if isinstance(parsed, float) else str(parsed))
        self.store.notify("config")
        return parsed

    # workers ---------------------------------------------------------------------------------------
    def request_stop(self) -> list[str]:
        """Ask every worker of this database to finish its job and exit; returns the live ones.
        Every row is asked, not only those listed live: a worker that another writer's long lock
        kept from its heartbeat looks gone, and would have run on (the rows of dead ones are inert)."""
        asked = set(self.store.request_stop(None))
        self.store.notify("stop")
        return [w.id for w in self.workers() if w.id in asked]

    def through_outage(self, read: Callable[[], T], patience: float, sleep: Callable[[float], None] = time.sleep) -> T:
        """read(), again while the database cannot be reached (a server restarted), as workers ride
        such an outage out; its StorageError once it has lasted `patience` seconds. For the commands
        that watch a job (wait, logs --follow): their exit code tells how the job ended."""
        since = None
        while True:
            try:
                return read()
            except StorageError:
                now = time.monotonic()
                since = now if since is None else since
                if now - since >= patience:
                    raise
                sleep(min(1.0, patience / 10))

    def wait(self, job_ids: Sequence[str], timeout: float | None = None, poll: float = 0.1) -> dict[str, str]:
        """Block until every job is completed or dead (or the timeout passes); returns id -> state.
        A job pruned while waited for is finished: its last state seen, or PRUNED if that was not
        a finished one (it ended and went between two reads)."""
        for job_id in job_ids:
            check_id(job_id)
        if timeout is not None and not timeout >= 0:  # also catches NaN, which never times out
            raise InvalidInput(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout

        def read(before: dict[str, str] | None = None) -> dict[str, str]:
            states = {}
            for job_id in job_ids:
                try:
                    states[job_id] = self.job(job_id, runs=False).state
                except NotFound:  # unknown at the first read: an error; later, pruned (finished)
                    if before is None:
                        raise
                    states[job_id] = before[job_id] if before[job_id] in FINISHED else PRUNED
            return states

        states, patience = read(), self.settings().lease_timeout  # an unknown id or database: at once
        while True:
            if all(s in FINISHED or s == PRUNED for s in states.values()):
                return states
            if deadline is not None and time.monotonic() >= deadline:
                return states
            remaining = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            time.sleep(min(poll, remaining))
            poll = min(poll * 1.5, 1.0)
            states = self.through_outage(lambda: read(states), patience)


__all__ = ["Queue", "ItemError", "InvalidItem", "ItemConflict", "default_location", "open_store", "failure_outcome", "SETTINGS"]
