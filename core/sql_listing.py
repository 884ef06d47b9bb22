"""SqlStore's listings and counts of jobs: filters by state, queue and text, in the orders the
commands and the app show. Mixed into SqlStore."""

from __future__ import annotations

from .models import STATES, Job
from .sql import JOB_COLUMNS, job_from_row, like_pattern
from .store import READY

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Sequence

# NULLs last when descending, as SQLite sorts them by default.
ORDERS = {
    "created": "seq DESC",
    "claim": "priority DESC, run_at, seq",
    "finished": "finished_at DESC NULLS LAST, seq DESC",
    "started": "started_at DESC NULLS LAST, seq DESC",
    "waiting": "seq",  # jobs waiting for their dependencies, oldest first
}


class ListingStatements:
    """Written for SQLite; a backend turns them into its dialect (dialect, _values, LIKE, _index)."""

    LIKE = "LIKE"
    dialect = staticmethod(lambda sql: sql)
    # and SqlStore's _read, _in, counts, queue_counts

    @staticmethod
    def _values(values: Sequence) -> tuple[str, tuple]:
        """`IN (?, ...)` or its equivalent for a list of values, and the parameters it takes."""
        raise NotImplementedError

    @staticmethod
    def _index(states: Sequence[str] | None, order: str, queues: Sequence[str] | None) -> str:
        """An index to name for this listing (SQLite's INDEXED BY), or ""."""
        return ""

    def _where(self, states: Sequence[str] | None, search: str | None,
               queues: Sequence[str] | None = None) -> tuple[str, list]:
        # The partial indexes' conditions are written out literally: only then do they apply.
        clauses, params = [], []
        if queues:
            sql, values = self._values(queues)
            clauses.append(f"queue {sql}")
            params.extend(values)
        if states and tuple(states) == READY:
            clauses.append("state IN ('pending', 'failed')")  # jobs_ready
        elif states and tuple(states) == ("processing",):
            clauses.append("state = 'processing'")  # jobs_running
        elif states:
            sql, values = self._values(states)
            clauses.append(f"state {sql}")
            params.extend(values)
        if states and "processing" not in states:
            clauses.append("state != 'processing'")  # jobs_state_seq
        if search:
            like = f"{self.LIKE} ? ESCAPE '\\'"
            clauses.append(f"(id {like} OR command {like} OR queue {like})")
            params.extend([like_pattern(search)] * 3)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_jobs(
        self, states: Sequence[str] | None, limit: int, search: str | None = None, order: str = "created",
        queues: Sequence[str] | None = None,
    ) -> list[Job]:
        if order == "claim" and states and tuple(states) == READY:
            # as they will run: the ready jobs, then those waiting for their `after` jobs
            ready = self._list(states, limit, search, order, queues, " AND waiting = 0")
            return ready + self._list(states, limit - len(ready), search, "waiting", queues, " AND waiting > 0")
        return self._list(states, limit, search, order, queues, "")

    def _list(self, states: Sequence[str] | None, limit: int, search: str | None, order: str,
              queues: Sequence[str] | None, more: str) -> list[Job]:
        if limit <= 0:
            return []
        where, params = self._where(states, search, queues)
        where += more
        if order == "finished" and states and set(states) <= {"completed", "dead"}:
            where += " AND finished_at IS NOT NULL"  # always true for them; lets jobs_finished apply
        sql = self.dialect(f"SELECT {JOB_COLUMNS} FROM jobs{self._index(states, order, queues)}{where}"
                           f" ORDER BY {ORDERS[order]} LIMIT ?")
        if not queues or search:
            return self._read(lambda c: [job_from_row(r) for r in c.execute(sql, (*params, limit))])
        # A few jobs of one queue among a million of others: no index leads to them, so the walk
        # stops at the last one the counters (kept by triggers) know of, or is not made at all.
        keys = [f"{state} {queue}" for state in states or STATES for queue in queues]
        count, count_params = self._in("count_in", keys)

        def read(conn: Any) -> list[Job]:
            found = int(conn.execute(count, count_params).fetchone()[0])
            return [job_from_row(r) for r in conn.execute(sql, (*params, min(limit, found)))] if found else []

        return self._read(read)

    def count_jobs(self, states: Sequence[str] | None = None, search: str | None = None,
                   queues: Sequence[str] | None = None) -> int:
        if not search:  # per state (and queue): kept by triggers
            found = self.counts() if not queues else self._counts_of(queues)
            return sum(n for state, n in found.items() if states is None or state in states)
        where, params = self._where(states, search, queues)
        sql = self.dialect(f"SELECT count(*) FROM jobs{where}")
        return self._read(lambda c: c.execute(sql, params).fetchone()[0])

    def _counts_of(self, queues: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for queue, by_state in self.queue_counts().items():
            if queue in queues:
                for state, n in by_state.items():
                    found[state] = found.get(state, 0) + n
        return found
