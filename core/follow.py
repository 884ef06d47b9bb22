"""Following one attempt of a job as it runs (`queuectl logs ID --follow`), from any host.

The reader polls the database (every POLL seconds: one indexed read, the output only when more was
written): the attempt's worker pushes it there at most once a second (core/live.py). Each stream's
bytes written in all tell what is new since the last read, and what no read caught: more than
output-limit bytes between two reads come as a Piece with `skipped` set, never as a silent gap.
"""

from __future__ import annotations

import time

from .errors import InvalidInput, NotFound
from .models import FINISHED, Run
from .record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Callable, Iterator

    from .queue import Queue

POLL = 0.25  # seconds between two reads of a running (or not yet started) attempt
STREAMS = ("stdout", "stderr")


@record
class Piece:
    """New output of one stream; `skipped` bytes were written before `data` and never read."""

    stream: str
    data: bytes
    skipped: int = 0


class Follow:
    """One attempt of a job: the next (or current) one, or the Nth in the job's history (number).
    Iterate pieces(); then `run` is the finished attempt, None if it never started (the job was
    cancelled first), and `ok` says whether it completed."""

    def __init__(self, queue: Queue, job_id: str, number: int | None = None, poll: float = POLL,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.queue, self.job_id, self.poll, self.sleep = queue, job_id, poll, sleep
        self.run: Run | None = None
        self.seen = [0, 0]  # bytes of stdout and stderr already given out
        job = queue.job(job_id, tail=1)  # how many attempts it has; their output is not needed yet
        done = len(job.runs)
        if number is None:  # a job that ended without an attempt (cancelled first) has number 0: no run
            number = done if job.state in FINISHED else done + 1
        elif not 1 <= number <= done + (job.state not in FINISHED):
            raise InvalidInput(f"--attempt must be between 1 and {max(1, done)} for job {job_id!r}")
        self.number = number
        # the job's attempt counter while this attempt runs (it restarts at 1 after a DLQ retry)
        self.counter = job.attempts + (job.state != "processing") if number > done else None

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.error is None and not self.run.running

    def pieces(self) -> Iterator[Piece]:
        queue, patience = self.queue, self.queue.settings().lease_timeout
        while self.counter is not None:
            view = queue.through_outage(lambda: queue.store.live_view(self.job_id, (self.seen[0], self.seen[1])),
                                        patience, self.sleep)
            if view is None:
                raise NotFound(f"no job with id {self.job_id!r} (deleted while followed)")
            if view.attempts < self.counter and view.state not in FINISHED:  # not started yet
                self.sleep(self.poll)
                continue
            if view.attempts != self.counter or view.state != "processing":
                break  # it ended (or the job ended without running it)
            yield from self._new((view.stdout_total, view.stderr_total), (view.stdout, view.stderr))
            self.sleep(self.poll)
        job = queue.through_outage(lambda: queue.job(self.job_id), patience, self.sleep)
        self.run = job.runs[self.number - 1] if 1 <= self.number <= len(job.runs) else None
        if self.run is not None:
            r = self.run
            yield from self._new((r.stdout_dropped + len(r.stdout), r.stderr_dropped + len(r.stderr)),
                                 (r.stdout, r.stderr))

    def _new(self, totals: tuple[int, int], tails: tuple[bytes | None, bytes | None]) -> Iterator[Piece]:
        for i, name in enumerate(STREAMS):
            total, tail = totals[i], tails[i]
            new = total - self.seen[i]
            if tail is None or new <= 0:
                continue
            self.seen[i] = total
            if new > len(tail):
                yield Piece(name, tail, new - len(tail))
            else:
                yield Piece(name, tail[len(tail) - new:])
