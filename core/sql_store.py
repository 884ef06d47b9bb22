"""What SQLiteStore and PostgresStore share: a pool of idle connections, the migration steps, and
every store method whose statements are the same in both dialects (see core/sql.py).

A backend gives its named statements (Q), how to run a function on a connection (_run; _write in
one transaction), how a list of values is bound (_in), and the methods that really differ.
"""

from __future__ import annotations

import abc
import collections

from .errors import IdTaken, InvalidInput, StorageError
from .models import Job, JobSpec, WorkerInfo
from .sql import IDS_AT_ONCE, job_from_row, job_row, job_with_runs, pick_among, run_columns
from .sql_deps import DepStatements
from .sql_listing import ListingStatements
from .sql_live import LiveStatements
from .sql_schedules import ScheduleStatements
from .outcome import Outcome
from .store import Store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence, TypeVar

    T = TypeVar("T")


def not_utf8() -> InvalidInput:
    """A parameter no database takes (a lone surrogate from JSON "\\ud800", or an argument's bytes that
    are not UTF-8): bad input, refused before anything is written."""
    return InvalidInput("text must be valid UTF-8: it holds a lone surrogate or bytes that are not UTF-8")


class SqlStore(ListingStatements, DepStatements, ScheduleStatements, LiveStatements, Store):
    Q: dict[str, str]  # the named statements of this dialect
    TAIL: str  # SQL for the last {n} bytes of a stream column {col}
    SCHEMA_VERSION: int
    location: str

    def __init__(self) -> None:
        # Idle connections; list.pop/append are atomic, so taking one needs no lock. A connection is
        # used by one thread at a time, from pop to append: close() closes only the idle ones, and a
        # connection in use when the store closes is closed by its user as it comes back.
        self._idle: list[Any] = []
        self._closed = False

    # running statements ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _run(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) on a pooled connection; driver errors become one-line StorageErrors."""

    @abc.abstractmethod
    def _write(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) in one transaction."""

    def _read(self, fn: Callable[[Any], T]) -> T:
        return self._run(fn)

    def _write_one(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) that runs one statement that writes."""
        return self._write(fn)

    @abc.abstractmethod
    def _in(self, name: str, values: Sequence) -> tuple[str, tuple]:
        """The named statement with its `{ids}` list for these values, and the parameters they take."""

    @staticmethod
    def _discard(conn: Any) -> None:
        try:
            conn.close()
        except Exception:
            pass

    def _close_idle(self) -> None:
        while True:
            try:
                conn = self._idle.pop()  # atomic: each connection is closed by one thread only
            except IndexError:
                return
            self._discard(conn)

    def close(self) -> None:
        """Close every idle connection now and each one in use as its thread gives it back: a
        connection is never closed under a statement another thread runs on it (SQLite's C code
        would free what the statement still uses). Later calls raise StorageError."""
        self._closed = True
        self._close_idle()

    # migrations ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _version(self, conn: Any) -> int: ...

    @abc.abstractmethod
    def _upgrade_to(self, conn: Any, target: int) -> None:
        """Run migration `target` and record it."""

    def _lock_schema(self, conn: Any) -> None:
        """Inside the upgrade's transaction, before the version is read again: one process migrates."""

    def _prepare_upgrade(self, conn: Any, current: int) -> None: ...

    def _may_upgrade(self, found: int) -> None:
        """Raise StorageError if this store may not upgrade its schema."""

    def _check_version(self, found: int) -> int:
        if found > self.SCHEMA_VERSION:
            raise StorageError(f"{self.location} has schema version {found}, newer than this queuectl"
                               f" ({self.SCHEMA_VERSION}): upgrade it")
        return found

    def _migrate(self) -> None:
        found = self._check_version(self._read(self._version))
        if found != self.SCHEMA_VERSION:
            self._may_upgrade(found)
            self._write(self._upgrade)

    def _upgrade(self, conn: Any) -> None:
        self._lock_schema(conn)
        current = self._check_version(self._version(conn))  # another process may have done it meanwhile
        if current == self.SCHEMA_VERSION:
            return
        self._prepare_upgrade(conn, current)
        for target in range(current + 1, self.SCHEMA_VERSION + 1):
            self._upgrade_to(conn, target)

    # jobs ------------------------------------------------------------------------------------------
    TAKEN: type[Exception]  # the driver's error for an id already taken (a unique violation)

    @abc.abstractmethod
    def _insert(self, conn: Any, rows: list[tuple]) -> None:
        """Insert job rows (see job_row)."""

    @abc.abstractmethod
    def _taken(self, ids: Sequence[str]) -> Callable[[str], bool]:
        """Which of these ids the database holds already, as a test."""

    def insert_jobs(self, specs: Sequence[JobSpec], ids: Sequence[str], now: float) -> dict[int, str]:
        keyed = {}  # unique_key -> index of its first job in this batch
        for index, spec in enumerate(specs):
            if spec.unique_key is not None:
                keyed.setdefault(spec.unique_key, index)

        def insert(conn: Any) -> dict[int, str]:
            held = self._held_keys(conn, list(keyed)) if keyed else {}
            existing = {}  # index -> the unfinished job that holds its key
            for index, spec in enumerate(specs):
                key = spec.unique_key
                if key is not None:
                    holder = held.get(key) or (ids[keyed[key]] if keyed[key] != index else None)
                    if holder is not None:
                        existing[index] = holder
            alias = {ids[index]: holder for index, holder in existing.items()}  # an `after` of a job not made
            after = [tuple(alias.get(a, a) for a in s.after) for s in specs]
            fresh = {job_id for index, job_id in enumerate(ids) if index not in existing}
            states = self._after_states(conn, {a for ids_ in after for a in ids_} - fresh)
            rows = [job_row(s, job_id, now, after[index],
                            sum(1 for a in after[index] if a in fresh or states.get(a, "completed") != "completed"))
                    for index, (s, job_id) in enumerate(zip(specs, ids)) if index not in existing]
            self._insert(conn, rows)
            if any(after):
                self._add_deps(conn, [(ids[i], a) for i, ids_ in enumerate(after) if i not in existing for a in ids_],
                               states, now)
            return existing
        try:
            return self._write(insert)
        except self.TAKEN:  # an id, or (a race with another enqueuer) a unique_key: see Queue.enqueue_many
            raise IdTaken(self._first_taken(ids)) from None

    def _first_taken(self, ids: Sequence[str]) -> str | None:
        taken, seen = self._taken(ids), set()
        for job_id in ids:
            if job_id in seen or taken(job_id):
                return job_id
            seen.add(job_id)
        return None  # none: a unique_key was taken meanwhile

    # reading ---------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return self._read(lambda c: dict(c.execute(self.Q["counts"]).fetchall()))

    def get_job(self, job_id: str, with_runs: bool = False, tail: int | None = None,
                output_of: int | None = None) -> Job | None:
        stream = "{col}" if tail is None else self.TAIL.replace("{n}", str(max(1, int(tail))))
        if output_of is not None:  # the others' streams are not read: length() needs only their size
            stream = f"CASE WHEN {self._nth_run(int(output_of))} THEN {stream} END"
        runs = self.Q["runs"] if stream == "{col}" else self.Q["runs_tail"].format(columns=run_columns(stream))

        def get(conn: Any) -> Job | None:
            row = conn.execute(self.Q["job"], (job_id,)).fetchone()
            if row is None:
                return None
            if not with_runs:
                return job_from_row(row)
            return job_with_runs(row, conn.execute(runs, (job_id,)))

        return self._read(get)

    @staticmethod
    def _nth_run(n: int) -> str:
        """SQL true for a job's Nth run row (-1: its last). Correlated subqueries, not row_number():
        a window makes the database copy every row's output aside first."""
        if n < 0:
            return "NOT EXISTS (SELECT 1 FROM runs later WHERE later.job_id = runs.job_id AND later.id > runs.id)"
        return f"(SELECT count(*) FROM runs upto WHERE upto.job_id = runs.job_id AND upto.id <= runs.id) = {n}"

    def completed_since(self, since: float) -> int:
        return self._read(lambda c: c.execute(self.Q["completed_since"], (since,)).fetchone()[0])

    SERVED = {"next_due": "queue", "lock_limited": "name"}
    READY_INDEXES = ("", "")  # the index a claim names (SQLite): for any queue, for given queues

    @abc.abstractmethod
    def _served(self, name: str, queues: Sequence[str] | None) -> tuple[str, tuple]:
        """The named statement limited to these queues (None: every queue), and their parameters."""

    def next_due(self, queues: Sequence[str] | None = None) -> float | None:
        """The earliest run_at among claimable jobs of these queues (None: of all): a skip scan
        (sql.NEXT_DUE) of jobs_ready, or of jobs_ready_queue once per queue."""
        if not queues:
            sql, _ = self._served("next_due", None)
            return self._read(lambda c: c.execute(sql).fetchone()[0])
        sql, _ = self._served("next_due", queues[:1])

        def earliest(conn: Any) -> float | None:
            # the skip scan names the queue in each of its three lookups
            dues = [conn.execute(sql, (name,) * 3).fetchone()[0] for name in queues]
            return min((due for due in dues if due is not None), default=None)

        return self._read(earliest)

    _claims: dict[tuple[type, bool, int], str] = {}  # by backend, chain or not, and number of queues
    SEEKS_AT_MOST = 32  # queues a claim seeks one by one (SQLite takes at most 500 terms in a UNION)

    def _claim_sql(self, more: bool, queues: Sequence[str] | None, now: float) -> tuple[str, tuple]:
        """The claim statement for a worker of these queues (None: all), and the parameters of its
        choice (sql.PICK). more: a chain's claim after the first, which takes no job of a limited
        queue (QUEUE_FREE). Each queue, up to SEEKS_AT_MOST, is one seek in jobs_ready_queue; more
        queues than that, or all, walk jobs_ready."""
        names = tuple(dict.fromkeys(queues or ()))
        n, seek = len(names), 0 < len(names) <= self.SEEKS_AT_MOST
        sql = self._claims.get((type(self), more, n))
        if sql is None:
            pick = self.Q["pick_more" if more else "pick"].replace("{index}", self.READY_INDEXES[seek])
            if seek and n > 1:
                pick = pick_among(pick, n, self.dialect(" AND r.queue = ?"))
            served = f" AND r.queue IN ({', '.join('?' * n)})" if n else ""
            pick = pick.replace("{columns}", "").replace("{served}", self.dialect(served))
            sql = self._claims[(type(self), more, n)] = self.Q["claim"].replace("{pick}", pick)
        return sql, tuple(value for name in names for value in (now, name)) if seek else (now, *names)

    def _claim(self, conn: Any, worker_id: str, now: float, lease_until: float,
               queues: Sequence[str] | None = None, more: bool = False) -> Job | None:
        sql, pick = self._claim_sql(more, queues, now)
        row = conn.execute(sql, (worker_id, now, now, lease_until, *pick, worker_id)).fetchone()
        return None if row is None else job_from_row(row)

    def claim(self, worker_id: str, now: float, lease_until: float, queues: Sequence[str] | None = None) -> Job | None:
        return self._run(lambda c: self._claim(c, worker_id, now, lease_until, queues))

    def renew_leases(self, worker_ids: Sequence[str], now: float, lease_until: float) -> set[str]:
        if not worker_ids:
            return set()
        jobs, ids = self._in("renew_jobs", worker_ids)
        workers, _ = self._in("renew_workers", worker_ids)

        def renew(conn: Any) -> set[str]:
            held = {row[0] for row in conn.execute(jobs, (lease_until, *ids)).fetchall()}
            conn.execute(workers, (now, *ids))
            return held

        return self._write(renew)

    @staticmethod
    def _finish_params(job_id: str, worker_id: str, attempt: int, o: Outcome, lease_seen: float | None) -> list:
        """The parameters of the finish (or finish_if_lease) statement."""
        params = [o.state, o.run_at, o.exit_code, o.error, o.started_at,
                  o.finished_at if o.state in ("completed", "dead") else None, o.finished_at,
                  job_id, worker_id, attempt]
        return params if lease_seen is None else [*params, lease_seen]

    @abc.abstractmethod
    def _finish(self, conn: Any, job_id: str, worker_id: str, attempt: int, outcome: Outcome,
                lease_seen: float | None) -> bool: ...

    def finish(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, lease_seen: float | None = None
    ) -> bool:
        return self._write_one(lambda c: self._finish(c, job_id, worker_id, attempt, outcome, lease_seen))

    def release(self, job_id: str, worker_id: str, attempt: int, now: float) -> str | None:
        sql = self.Q["release"]
        row = self._write_one(lambda c: c.execute(sql, (now, now, job_id, worker_id, attempt)).fetchone())
        return None if row is None else row[0]

    def expired(self, now: float) -> list[Job]:
        return self._read(lambda c: [job_from_row(r) for r in c.execute(self.Q["expired"], (now,))])

    def requeue_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        wanted = None if job_ids is None else list(dict.fromkeys(job_ids))

        def requeue(conn: Any) -> list[str]:
            if wanted is None:
                before = {row[0]: row[1:] for row in conn.execute(self.Q["dead_with_deps_all"]).fetchall()}
                found = dict(conn.execute(self.Q["requeue_all"], (now, now)).fetchall())
                moved = list(found)
            else:
                before, found = {}, {}
                for at in range(0, len(wanted), IDS_AT_ONCE):
                    sql, ids = self._in("dead_with_deps", wanted[at:at + IDS_AT_ONCE])
                    before.update((row[0], row[1:]) for row in conn.execute(sql, ids).fetchall())
                    sql, ids = self._in("requeue", wanted[at:at + IDS_AT_ONCE])
                    found.update(conn.execute(sql, (now, now, *ids, *ids)).fetchall())
                moved = [job_id for job_id in wanted if job_id in found]
            pending: set[str] = set()
            for at in range(0, len(moved), IDS_AT_ONCE):  # a dependency still dead: dead again
                sql, ids = self._in("redead", moved[at:at + IDS_AT_ONCE])
                conn.execute(sql, (now, now, *ids))
            for at in range(0, len(moved), IDS_AT_ONCE):  # and so are the jobs after it (its trigger)
                sql, ids = self._in("still_pending", moved[at:at + IDS_AT_ONCE])
                pending.update(job_id for job_id, in conn.execute(sql, ids).fetchall())
            for job_id in moved:  # dead again: as it was, as if never retried
                if job_id not in pending and job_id in before:
                    conn.execute(self.Q["restore_dead"], (*before[job_id], job_id))
            retried = [job_id for job_id in moved if job_id in pending]
            self._add_gone(conn, [(found[job_id], "dead") for job_id in retried])
            return retried

        return self._write(requeue)

    def _add_gone(self, conn: Any, keys: Sequence[tuple[str, str]]) -> None:
        """Count finished jobs that leave their state (see finished_totals)."""
        for (queue, state), n in collections.Counter(keys).items():
            conn.execute(self.Q["add_gone"], (queue, state, n))

    def finished_totals(self) -> dict[tuple[str, str], int]:
        def read(conn: Any) -> dict[tuple[str, str], int]:
            totals = {(q, s): n for q, s, n in conn.execute(self.Q["queue_counts"]) if s in ("completed", "dead")}
            for queue, state, n in conn.execute(self.Q["gone"]):
                totals[queue, state] = totals.get((queue, state), 0) + n
            return totals

        return self._read(read)

    def cancel_waiting(self, job_id: str, now: float) -> bool:
        cancel, owe = self.Q["cancel_waiting"], self.Q["owe_hook"]

        def write(conn: Any) -> bool:
            if conn.execute(cancel, (now, now, job_id)).rowcount != 1:
                return False
            conn.execute(owe, (job_id, "dead"))
            return True

        return self._write(write)

    def take_owed_hooks(self) -> list[tuple[str, str]]:
        if self._read(lambda c: c.execute(self.Q["hooks_owed"]).fetchone()) is None:
            return []  # the usual case, and a read: no write lock taken at each beat
        rows = self._write_one(lambda c: c.execute(self.Q["take_hooks"]).fetchall())
        return [(job_id, state) for _, job_id, state in sorted(rows)]

    def request_cancel(self, job_id: str) -> bool:
        return self._write_one(lambda c: c.execute(self.Q["request_cancel"], (job_id,)).rowcount == 1)

    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        sql, ids = self._in("cancel_requested", job_ids)
        return self._read(lambda c: {r[0] for r in c.execute(sql, ids)})

    @abc.abstractmethod
    def _delete_runs(self, conn: Any, job_ids: list[str]) -> None: ...

    def prune(self, states: Sequence[str], finished_before: float) -> int:
        sql, params = self._in("prune", states)

        def prune(conn: Any) -> int:
            rows = conn.execute(sql, (*params, finished_before)).fetchall()
            if rows:
                self._delete_runs(conn, [r[0] for r in rows])
                self._add_gone(conn, [(r[2], r[1]) for r in rows])
                conn.execute(self.Q["live_gc"])  # rows a dead worker left behind
            return len(rows)

        return self._write(prune)

    # settings --------------------------------------------------------------------------------------
    def read_settings(self) -> dict[str, str]:
        return self._read(lambda c: dict(c.execute(self.Q["read_settings"]).fetchall()))

    def write_setting(self, key: str, value: str) -> None:
        self._write_one(lambda c: c.execute(self.Q["write_setting"], (key, value)))

    # queues ----------------------------------------------------------------------------------------
    def queue_settings(self) -> dict[str, tuple[int, bool]]:
        rows = self._read(lambda c: c.execute(self.Q["queue_settings"]).fetchall())
        return {name: (int(limit), bool(paused)) for name, limit, paused in rows}

    def queue_counts(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for queue, state, n in self._read(lambda c: c.execute(self.Q["queue_counts"]).fetchall()):
            found.setdefault(queue, {})[state] = int(n)
        return found

    def set_queue(self, name: str, limit: int | None = None, paused: bool | None = None) -> None:
        def change(conn: Any) -> None:
            if limit is not None:
                conn.execute(self.Q["queue_limit"], (name, limit))
            if paused is not None:
                conn.execute(self.Q["queue_pause"], (name, paused))
            conn.execute(self.Q["queue_tidy"], (name,))

        self._write(change)

    # workers ---------------------------------------------------------------------------------------
    def register_worker(self, info: WorkerInfo) -> None:
        params = (info.id, info.host, info.pid, info.started_at, info.heartbeat_at)
        self._write_one(lambda c: c.execute(self.Q["register_worker"], params))

    def remove_worker(self, worker_id: str) -> None:
        self._write_one(lambda c: c.execute(self.Q["remove_worker"], (worker_id,)))

    def list_workers(self, alive_since: float) -> list[WorkerInfo]:
        rows = self._read(lambda c: c.execute(self.Q["list_workers"], (alive_since,)).fetchall())
        return [WorkerInfo(*r[:6], stop_requested=bool(r[6])) for r in rows]

    def request_stop(self, worker_ids: Sequence[str] | None = None) -> list[str]:
        if worker_ids is None:
            return self._write_one(lambda c: [r[0] for r in c.execute(self.Q["request_stop_all"])])
        sql, ids = self._in("request_stop", worker_ids)
        return self._write_one(lambda c: [r[0] for r in c.execute(sql, ids)])

    def stop_requested(self, worker_ids: Sequence[str]) -> set[str]:
        if not worker_ids:
            return set()
        sql, ids = self._in("stop_requested", worker_ids)
        return self._read(lambda c: {r[0] for r in c.execute(sql, ids)})
