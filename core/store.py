"""Storage: the small interface the engine needs (its SQLite implementation is core/sqlite_store.py).

The queue logic (which state a failed job goes to, how long it waits) lives in lifecycle.py; a
store only runs guarded reads and writes, so another backend is a short class.
"""

from __future__ import annotations

import abc

from .models import Job, JobSpec, LiveView, WorkerInfo
from .outcome import Ended, Outcome  # re-exported: their home was here
from .wake import Listener

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Sequence

READY = ("pending", "failed")  # states a worker may claim once run_at is due


class Store(abc.ABC):
    """Everything the engine asks of a database. All methods are safe to call from any thread."""

    location: str  # to show: never a password (see core/location.py)

    @property
    def url(self) -> str:
        """What Queue.open() takes to open this database again. It may hold a password: never show it."""
        return self.location

    read_only = False  # opened for reading only: every write raises StorageError

    # jobs ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def insert_jobs(self, specs: Sequence[JobSpec], ids: Sequence[str], now: float) -> dict[int, str]:
        """Insert all jobs in one transaction, or none; a job whose unique_key an unfinished job (or
        an earlier one of these) holds is not inserted. Returns {index: id of the holder} of those.
        Raises IdTaken (job_id None: a unique_key was taken by another writer meanwhile)."""

    @abc.abstractmethod
    def get_job(self, job_id: str, with_runs: bool = False, tail: int | None = None,
                output_of: int | None = None) -> Job | None:
        """The job; with_runs: with its attempts. tail: read only the last `tail` bytes (>= 1) of
        each attempt's stdout and stderr (Run.stdout_unread says how many more are stored).
        output_of: read the output of that stored attempt only (1-based; -1: the last one)."""

    @abc.abstractmethod
    def list_jobs(
        self, states: Sequence[str] | None, limit: int, search: str | None = None, order: str = "created",
        queues: Sequence[str] | None = None,
    ) -> list[Job]:
        """Jobs in the given states (and queues). order: created (newest first), claim (next to run
        first), finished (latest first), started (latest first). search matches id, command, queue."""

    @abc.abstractmethod
    def count_jobs(self, states: Sequence[str] | None = None, search: str | None = None,
                   queues: Sequence[str] | None = None) -> int: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of jobs per state; states with no jobs may be missing."""

    @abc.abstractmethod
    def completed_since(self, since: float) -> int: ...

    @abc.abstractmethod
    def finished_totals(self) -> dict[tuple[str, str], int]:
        """(queue, state) -> jobs that ever reached completed or dead: the jobs in that state now,
        plus those that left it since (pruned, or retried from the dead-letter queue)."""

    @abc.abstractmethod
    def next_due(self, queues: Sequence[str] | None = None) -> float | None:
        """The earliest run_at among waiting jobs of these queues (None: all) that are not paused."""

    @abc.abstractmethod
    def claim(self, worker_id: str, now: float, lease_until: float, queues: Sequence[str] | None = None) -> Job | None:
        """Atomically take the best due job of these queues (None: all): highest priority, earliest
        due, oldest; never from a paused queue, nor from one with its limit of processing jobs."""

    @abc.abstractmethod
    def renew_leases(self, worker_ids: Sequence[str], now: float, lease_until: float) -> set[str]:
        """Heartbeat: extend the leases of jobs these workers hold and mark the workers alive. The
        ids of the jobs they still hold: one they run that is not among them was taken back."""

    @abc.abstractmethod
    def finish(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, lease_seen: float | None = None
    ) -> bool:
        """Record an attempt's end, only if worker_id still holds this attempt of the job (and, with
        lease_seen, only if its lease was not renewed since it was seen: lease_until <= lease_seen).
        False if it no longer does."""

    @abc.abstractmethod
    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (), queues: Sequence[str] | None = None,
    ) -> tuple[list[bool], list[Job], list[str]]:
        """finish() each ended attempt, release() each (job id, attempt) given, then claim() up to
        `claim` jobs for the same worker, all in one transaction (one round trip and one commit):
        (finished, per ended attempt; the jobs claimed; the released jobs a cancel ended dead, whose
        on-dead hook is the caller's to run). The claims happen whether or not the finishes were
        still this worker's to record."""

    @abc.abstractmethod
    def release(self, job_id: str, worker_id: str, attempt: int, now: float) -> str | None:
        """Undo a claim whose job never started (claimed with a job that turned out slow, or as the
        worker lost the database): back to pending or failed with the attempt not counted, only if
        worker_id still holds it; dead, 'cancelled', if a cancel was requested meanwhile. The state
        it went to, or None if worker_id no longer held it."""

    @abc.abstractmethod
    def expired(self, now: float) -> list[Job]:
        """Processing jobs whose lease ran out."""

    @abc.abstractmethod
    def requeue_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        """Dead to pending with attempts reset; None means every dead job. Returns the ids now pending:
        not a job whose unique key is held, nor one dead again at once because a dependency still is."""

    @abc.abstractmethod
    def cancel_waiting(self, job_id: str, now: float) -> bool:
        """A pending or failed job to dead, last_error 'cancelled', its on-dead hook owed to a worker."""

    @abc.abstractmethod
    def take_owed_hooks(self) -> list[tuple[str, str]]:
        """(job id, state) of hooks owed, oldest first, each taken by one caller only."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str) -> bool:
        """Flag a processing job so its worker kills it."""

    @abc.abstractmethod
    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]: ...

    @abc.abstractmethod
    def prune(self, states: Sequence[str], finished_before: float) -> int: ...

    # queues --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def queue_settings(self) -> dict[str, tuple[int, bool]]:
        """name -> (limit, paused) of the queues that have a limit or are paused."""

    @abc.abstractmethod
    def queue_counts(self) -> dict[str, dict[str, int]]:
        """queue -> state -> jobs, for the queues that have jobs (states with none may be missing)."""

    @abc.abstractmethod
    def set_queue(self, name: str, limit: int | None = None, paused: bool | None = None) -> None:
        """Change a queue's limit (0: none) and/or pause; a queue with neither keeps no row."""

    # settings ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def read_settings(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def write_setting(self, key: str, value: str) -> None: ...

    # workers -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def register_worker(self, info: WorkerInfo) -> None: ...

    @abc.abstractmethod
    def remove_worker(self, worker_id: str) -> None: ...

    @abc.abstractmethod
    def list_workers(self, alive_since: float) -> list[WorkerInfo]:
        """Workers whose heartbeat is not older than alive_since. A worker's job_id is the
        processing job whose `worker` is that worker (the workers table's job_id column is unused)."""

    @abc.abstractmethod
    def request_stop(self, worker_ids: Sequence[str] | None = None) -> list[str]:
        """Ask workers (all registered ones by default) to stop; returns the ids asked."""

    @abc.abstractmethod
    def stop_requested(self, worker_ids: Sequence[str]) -> set[str]: ...

    # live output (core/live.py) ------------------------------------------------------------------
    @abc.abstractmethod
    def push_live(self, job_id: str, attempt: int, worker_id: str, now: float, totals: tuple[int, int],
                  stdout: bytes, stderr: bytes) -> None:
        """Store a running attempt's output so far: the kept tails and the bytes written in all."""

    @abc.abstractmethod
    def drop_live(self, keys: Sequence[tuple[str, int, str]]) -> list[tuple[str, int, str]]: ...

    @abc.abstractmethod
    def live_gc(self) -> None: ...

    @abc.abstractmethod
    def live_view(self, job_id: str, seen: tuple[int, int] = (0, 0)) -> LiveView | None:
        """The job's state and its running attempt's output; None if there is no such job."""

    # wake-ups ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def notify(self, event: str) -> None:
        """Tell listening processes that something happened ('work', 'cancel', 'stop')."""

    @abc.abstractmethod
    def listener(self) -> Listener: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def fold_counts(self) -> None:
        """Tidy what keeps the counts per queue and state, now and then (a pool's heartbeat calls it).
        SQLite updates them in place: nothing to do."""

    def replaced(self) -> str | None:
        """Why this store's database is no longer the one at its location (a SQLite file deleted or
        replaced under the open connections), or None. A server database never is."""
        return None


# The SQLite store, where the engine and older callers import it from. Imported last: it builds on Store.
from .migrations import statements  # noqa: E402
from .migrations.sqlite import SQLITE_MIGRATIONS as MIGRATIONS  # noqa: E402
from .migrations.sqlite import SQLITE_SCHEMA_VERSION as SCHEMA_VERSION  # noqa: E402
from .sqlite_store import SQLiteStore  # noqa: E402

__all__ = ["READY", "Ended", "Outcome", "Store", "SQLiteStore", "MIGRATIONS", "SCHEMA_VERSION", "statements"]
