"""Database work for screens: one thread worker per request, its result posted back to the screen as
a DbResult message (post_message is thread-safe). Screens mix this in and handle on_db_result."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from textual.worker import Worker

from core.errors import Conflict, StorageError
from core.queue import Queue

from .messages import DbResult


class DbWork:
    """Mixed into a Screen that has a `queue`."""

    queue: Queue

    def run_db(self, tag: str, action: Callable[[Queue], Any], exclusive: bool = False,
               writes: bool = False) -> Worker:
        """Run action(queue) off the UI thread; the screen gets DbResult(tag, ...). exclusive: a
        newer request of this tag cancels the older worker (Textual's `exclusive`). writes: refused
        once the SQLite file was deleted or replaced under the app (its connections would write
        into the old file, which no worker reads any more)."""
        return self.run_worker(  # type: ignore[attr-defined]  # the Screen's
            partial(self._db_thread, tag, action, writes), name=f"db:{tag}", group=f"db:{tag}",
            exclusive=exclusive, thread=True, exit_on_error=False)

    def _db_thread(self, tag: str, action: Callable[[Queue], Any], writes: bool) -> None:
        try:
            problem = self.queue.store.replaced() if writes else None
            if problem is not None:
                raise StorageError(f"{problem}: nothing was written; restart the app on the database you mean")
            result = action(self.queue)
        except Exception as exc:  # the database may be locked, deleted or full: the screen says so
            self.post_message(DbResult(tag, error=exc))  # type: ignore[attr-defined]
            return
        self.post_message(DbResult(tag, result))  # type: ignore[attr-defined]


def retry_all(queue: Queue) -> list[str]:
    """The retry-all key: when not one dead job could come back, say why rather than "Retrying"."""
    moved = queue.retry_dead(None)
    if not moved and queue.counts()["dead"]:
        raise Conflict("no dead job came back: each waits on a dead dependency, or an unfinished job holds"
                       " its unique key (r on a job says which)")
    return moved


def retry_one(queue: Queue, job_id: str) -> list[str]:
    """The retry key of a dead job: one that stays dead (a dependency still dead, its unique key held)
    is an error to show, not a "Retrying"."""
    if not queue.retry_dead([job_id]):
        raise Conflict(queue.why_still_dead(job_id))
    return [job_id]
