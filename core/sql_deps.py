"""SqlStore's statements for dependencies (`after`) and unique keys: the reads and writes the insert
of new jobs makes in its transaction, and the waiting_on of a listing. Mixed into SqlStore."""

from __future__ import annotations

from .sql import IDS_AT_ONCE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Sequence


class DepStatements:
    Q: dict[str, str]  # and SqlStore's _read, _write, _write_one, _in

    def _after_states(self, conn: Any, after_ids: set[str]) -> dict[str, str]:
        """The states of the jobs waited for (PostgreSQL: locked till commit, so none finishes unseen)."""
        found: dict[str, str] = {}
        wanted = sorted(after_ids)
        for at in range(0, len(wanted), IDS_AT_ONCE):
            sql, params = self._in("after_states", wanted[at:at + IDS_AT_ONCE])
            found.update(conn.execute(sql, params).fetchall())
        return found

    def _add_deps(self, conn: Any, pairs: list[tuple[str, str]], states: dict[str, str], now: float) -> None:
        """Record who waits for whom; a job waiting for a dead one is dead at once (and so are its own)."""
        cursor = conn.cursor()  # executemany: a cursor's in both drivers
        cursor.executemany(self.Q["add_deps"], [(a, job_id) for job_id, a in pairs])
        cursor.close()
        waited = sorted({a for _, a in pairs})
        for at in range(0, len(waited), IDS_AT_ONCE):
            sql, params = self._in("has_dependents", waited[at:at + IDS_AT_ONCE])
            conn.execute(sql, params)
        for job_id, a in pairs:
            if states.get(a) == "dead":
                conn.execute(self.Q["dead_dependency"], (f"dependency {a} is dead", now, now, job_id))

    def waiting_on(self, job_ids: Sequence[str]) -> dict[str, list[str]]:
        """For jobs waiting for dependencies: the ids of those not completed yet."""
        found: dict[str, list[str]] = {}

        def read(conn: Any) -> None:
            for at in range(0, len(job_ids), IDS_AT_ONCE):
                sql, params = self._in("waiting_on", job_ids[at:at + IDS_AT_ONCE])
                for job_id, after_id in conn.execute(sql, params):
                    found.setdefault(job_id, []).append(after_id)

        self._read(read)
        return found

    def existing_ids(self, job_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for at in range(0, len(job_ids), IDS_AT_ONCE):
            sql, params = self._in("existing_ids", list(job_ids[at:at + IDS_AT_ONCE]))
            found.update(r[0] for r in self._read(lambda c: c.execute(sql, params).fetchall()))
        return found

    def _held_keys(self, conn: Any, keys: list[str]) -> dict[str, str]:
        held = {}
        for at in range(0, len(keys), IDS_AT_ONCE):
            sql, params = self._in("held_keys", keys[at:at + IDS_AT_ONCE])
            held.update(conn.execute(sql, params).fetchall())
        return held

    def dependents(self, job_id: str) -> list[str]:
        """The jobs whose `after` names this one."""
        return [r[0] for r in self._read(lambda c: c.execute(self.Q["dependents"], (job_id,)).fetchall())]
