"""The rules of a job's state changes, in one place (like RQ's job_lifecycle.py): how an attempt that
ran ends, what a lease expiry and a cancel do. Pure functions: the callers read and write the store.

Not here: releasing a claimed job that never started (a chain's leftovers, a claim written as the
connection broke) is one guarded UPDATE, store.RELEASE_SQL: back to pending (failed after an earlier
attempt) with the attempt not counted, or dead, "cancelled", if a cancel was requested meanwhile.
"""

from __future__ import annotations

from .models import FINISHED, Job, Settings
from .outcome import Outcome

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:  # and the runner (subprocess and co.) is not imported by the CLI's quick commands
    from typing import Any

    from .runner import RunResult

CANCELLED = "cancelled"  # the error of an attempt killed, or a job ended, by a cancel
SHUTDOWN_KILL = "killed: worker shut down"
LEASE_LOST = "killed: its lease was lost (taken back while the worker did not answer)"


def failure_outcome(job: Job, settings: Settings, now: float, **run: Any) -> Outcome:
    """A failed attempt: retry after the backoff while retries remain, else dead."""
    if job.attempts > job.max_retries:
        return Outcome("dead", None, finished_at=now, **run)
    return Outcome("failed", now + settings.backoff(job.attempts), finished_at=now, **run)


def attempt_outcome(job: Job, result: RunResult, settings: Settings) -> Outcome:
    """An attempt that ran: completed on success, dead if cancelled, else a failure (retry or dead).
    Positional: it runs once per job, and keywords through a dict cost an allocation each time."""
    r = result
    if r.error is None:
        return Outcome("completed", None, r.exit_code, None, r.started_at, r.finished_at,
                       r.stdout, r.stderr, r.stdout_dropped, r.stderr_dropped)
    if r.error == CANCELLED:
        return Outcome("dead", None, r.exit_code, r.error, r.started_at, r.finished_at,
                       r.stdout, r.stderr, r.stdout_dropped, r.stderr_dropped)
    return failure_outcome(job, settings, r.finished_at, exit_code=r.exit_code, error=r.error,
                           started_at=r.started_at, stdout=r.stdout, stderr=r.stderr,
                           stdout_dropped=r.stdout_dropped, stderr_dropped=r.stderr_dropped)


def expired_outcome(job: Job, cancel_requested: bool, settings: Settings, now: float) -> Outcome:
    """A job taken back because its lease ran out: a failed attempt (retry or dead), or dead,
    "cancelled", if a cancel was requested while its worker was silent."""
    if cancel_requested:
        return Outcome("dead", None, None, CANCELLED, job.started_at, now)
    error = f"lease expired: worker {job.worker} stopped responding"
    return failure_outcome(job, settings, now, exit_code=None, error=error, started_at=job.started_at)


def cancel_step(state: str) -> str:
    """What a cancel does to a job in this state: "refuse" a finished one; "request" for a running one
    (its worker kills the process group and records it dead, "cancelled"); "end" a waiting one at once
    (dead, "cancelled")."""
    if state in FINISHED:
        return "refuse"
    return "request" if state == "processing" else "end"
