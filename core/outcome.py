"""How an attempt ended, as finishing it writes it (Outcome), and addressed to its job (Ended).

The other records of an attempt: the runner's raw RunResult (runner.py: exit code and output, no
job states, so the runner stays independent of the queue's rules) and the stored Run (models.py).
"""

from __future__ import annotations

from .record import record


@record
class Outcome:
    """What finishing an attempt writes: the job's new state and the attempt's record."""

    state: str  # completed, failed or dead
    run_at: float | None  # next due time for failed
    exit_code: int | None
    error: str | None
    started_at: float | None
    finished_at: float
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_dropped: int = 0  # bytes written before the kept tail and not kept (output-limit)
    stderr_dropped: int = 0


@record
class Ended:
    """An attempt that ran, to be recorded: which job, which of its attempts, how it ended."""

    job_id: str
    attempt: int
    outcome: Outcome
