"""A worker's chain of short jobs: what to run next, what to record, what to give back, and when.

Short jobs are claimed and recorded in chains: after a job that ran under CHAIN_SHORT seconds, its
worker claims the next CHAIN jobs in one transaction, runs them one after the other, and records
them together with the next claim: a transaction per CHAIN jobs instead of one per job (on short
jobs the transaction is much of a worker's CPU: bench/README.md). A chain lasts CHAIN_SHORT seconds
at most from its claim: then the attempts that ended are written and the jobs not started are given
back (while the running job goes on, if it is the slow one), so no job waits behind a slow one and
no result waits longer than that to be written.

Pure logic, no threads or database: times are time.monotonic() values the worker passes in.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from .models import Job
    from .outcome import Outcome

CHAIN, CHAIN_SHORT = 4, 0.05
GIVE_BACK_WAIT = 1.0  # seconds a worker leaving a burst waits at most for another's chain to give back


class Chain:
    """The jobs a worker claimed together with its current one, and the attempts not yet written.
    The heartbeat thread reads `backlog` (a copy, under the pool's lock) and adds to `cancelled`."""

    __slots__ = ("backlog", "ended", "until", "cancelled")

    def __init__(self) -> None:
        self.backlog: list[Job] = []  # claimed with the current job, not started yet
        self.ended: list[tuple[Job, Outcome]] = []  # ran, not recorded yet (earlier jobs of the chain)
        self.until = 0.0  # by when the chain is written
        self.cancelled: set[str] = set()  # backlog jobs with a cancel request

    def time_left(self, now: float) -> float | None:
        """How long a job starting now may run before the chain is written without waiting for it;
        None when nothing waits on it."""
        return max(0.0, self.until - now) if self.backlog or self.ended else None

    def end(self, job: Job, outcome: Outcome) -> None:
        self.ended.append((job, outcome))

    def next(self, now: float, going_on: bool) -> Job | None:
        """The backlog's next job to run at once, while the chain's time lasts and none of it is
        cancelled; else None: the chain is to be recorded."""
        if going_on and self.backlog and now < self.until and not self.cancelled:
            return self.backlog.pop(0)
        return None

    @staticmethod
    def claim_size(took: float, going_on: bool) -> int:
        """How many jobs to claim with the record: a chain after a short job, one after a slow one."""
        return (CHAIN if took < CHAIN_SHORT else 1) if going_on else 0

    def to_record(self) -> tuple[list[tuple[Job, Outcome]], list[Job]]:
        """(attempts to record, jobs to give back). A cancelled job of the backlog is given back too
        (the release ends it dead), so its cancel is done. Kept until recorded(): a write that fails
        forgets nothing."""
        self.cancelled.clear()
        return self.ended, self.backlog

    def recorded(self, claimed: list[Job], now: float) -> None:
        """The record is written; `claimed` came with it: the first is run now, the rest wait."""
        self.ended, self.backlog = [], claimed[1:]
        self.until = now + CHAIN_SHORT


def may_give_back(latest_claim: float | None, now: float) -> bool:
    """Whether another worker's chain may still give jobs back: it does within CHAIN_SHORT of its
    claim, so while a job was claimed (`latest_claim`, clock time) more recently than that."""
    return latest_claim is not None and latest_claim > now - 2 * CHAIN_SHORT
