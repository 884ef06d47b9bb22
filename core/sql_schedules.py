"""SqlStore's statements for schedules (core/schedules.py). Mixed into SqlStore."""

from __future__ import annotations

from .errors import Conflict
from .schedules import Schedule
from .sql import job_row

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any
    from .models import JobSpec


class ScheduleStatements:
    Q: dict[str, str]  # and SqlStore's _read, _write, _write_one, _in

    def add_schedule(self, name: str, cron: str, tz: str, job: str, next_due: float, now: float) -> None:
        try:
            self._write_one(lambda c: c.execute(self.Q["add_schedule"], (name, cron, tz, job, next_due, now)))
        except self.TAKEN:
            raise Conflict(f"schedule {name!r} exists already (schedule rm it first)") from None

    def schedules(self) -> list[Schedule]:
        rows = self._read(lambda c: c.execute(self.Q["schedules"]).fetchall())
        return [Schedule(r[0], r[1], r[2], r[3], bool(r[4]), *r[5:]) for r in rows]

    def schedule(self, name: str) -> tuple[str, str, bool] | None:
        """(cron, tz, paused) of a schedule, or None."""
        row = self._read(lambda c: c.execute(self.Q["schedule"], (name,)).fetchone())
        return None if row is None else (row[0], row[1], bool(row[2]))

    def remove_schedule(self, name: str) -> bool:
        return self._write_one(lambda c: c.execute(self.Q["remove_schedule"], (name,)).rowcount == 1)

    def pause_schedule(self, name: str, paused: bool, next_due: float) -> bool:
        sql = self.Q["pause_schedule"]
        return self._write_one(lambda c: c.execute(sql, (paused, next_due, name)).rowcount == 1)

    def due_schedules(self, now: float) -> list[tuple]:
        """(name, cron, tz, job, next_due, last_job) of each schedule due by now, not paused."""
        return self._read(lambda c: c.execute(self.Q["due_schedules"], (now,)).fetchall())

    def next_schedule_due(self) -> float | None:
        return self._read(lambda c: c.execute(self.Q["next_schedule_due"]).fetchone()[0])

    def fire_schedule(self, name: str, seen: float, following: float, last_job: str | None,
                      spec: JobSpec, job_id: str, now: float) -> str:
        """In one transaction: move the schedule from the due time seen to the following one, and
        insert its job, unless its last job is unfinished (then the due time is skipped). Returns
        'fired', 'skipped', or 'lost' (another pool moved it first: nothing written)."""
        def fire(conn: Any) -> str:
            found = conn.execute(self.Q["job_state"], (last_job,)).fetchone() if last_job else None
            skip = (found is not None and found[0] in ("pending", "failed", "processing")
                    or (spec.unique_key is not None and bool(self._held_keys(conn, [spec.unique_key])))
                    or conn.execute(self.Q["job_state"], (job_id,)).fetchone() is not None)
            moved = conn.execute(self.Q["advance_schedule"], (following, seen, None if skip else job_id, name, seen))
            if moved.rowcount != 1:
                return "lost"
            if skip:
                return "skipped"
            self._insert(conn, [job_row(spec, job_id, now)])
            conn.execute(self.Q["mark_scheduled"], (name, job_id))
            return "fired"

        return self._write(fire)
