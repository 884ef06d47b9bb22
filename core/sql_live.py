"""SqlStore's statements for the output of running attempts (core/live.py). Mixed into SqlStore."""

from __future__ import annotations

from .models import LiveView

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Sequence


class LiveStatements:
    Q: dict[str, str]  # and SqlStore's _read, _write, _write_one, _in

    def push_live(self, job_id: str, attempt: int, worker_id: str, now: float, totals: tuple[int, int],
                  stdout: bytes, stderr: bytes) -> None:
        params = (job_id, attempt, worker_id, now, *totals, stderr, stdout)
        self._write_one(lambda c: c.execute(self.Q["push_live"], params))

    def drop_live(self, keys: Sequence[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
        """Delete the live rows of these (job, attempt, worker) once their attempts are recorded;
        return the keys still held (not recorded yet), to try again later."""
        drop, held = self.Q["drop_live"], self.Q["live_held"]

        def run(conn: Any) -> list[tuple[str, int, str]]:
            for key in keys:  # a few at a time: the attempts of one pool that ended within a second
                conn.execute(drop, (*key, *key))
            return [key for key in keys if conn.execute(held, key).fetchone() is not None]

        return self._write(run)

    def live_gc(self) -> None:
        """Delete the live rows of jobs no longer running (their worker died, or the job was pruned)."""
        self._write_one(lambda c: c.execute(self.Q["live_gc"]))

    def live_view(self, job_id: str, seen: tuple[int, int] = (0, 0)) -> LiveView | None:
        row = self._read(lambda c: c.execute(self.Q["live_view"], (*seen, job_id)).fetchone())
        if row is None:
            return None
        out, err = (None if b is None else bytes(b) for b in row[6:8])
        return LiveView(*row[:4], row[4] or 0, row[5] or 0, out, err)
