"""What a worker run in the foreground (`worker start`, a worker process) prints: its log set-up and
the line per finished attempt."""

from __future__ import annotations

import logging
import os
import sys
import time

from .models import Job
from .outcome import Outcome
from .text import visible


def configure_logging() -> None:
    """The engine's log lines (warnings, cancels, stops) of a worker run in the foreground, on
    stderr. Records skip what the format never shows (the caller's frame, thread and process
    names): the logging HOWTO's optimisations."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging._srcfile = None  # type: ignore[attr-defined]  # documented in the HOWTO
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


class VisibleFormatter(logging.Formatter):
    """A line's control characters (of a job id, queue or error as the database holds them, which
    need not be as enqueue checked them) shown as escapes: no text of a job's can forge a log line
    or drive the terminal. A traceback after it keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record), keep_newlines=False)


_stamp = (-1, "")  # (second, its local time as text)


def print_job_end(job: Job, outcome: Outcome) -> None:
    """`worker start`'s line per finished attempt, on stderr, like its log lines: one write(2), the
    time of day formatted once a second. Not a log record, which cost far more (bench/README.md)."""
    global _stamp
    now = time.time()
    if _stamp[0] != int(now):
        _stamp = (int(now), time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(now))))
    if outcome.state == "completed":
        what = f"completed in {outcome.finished_at - (outcome.started_at or 0):.3f}s (attempt {job.attempts})"
    else:
        what = f"{outcome.state} (attempt {job.attempts}): {visible(str(outcome.error), keep_newlines=False)}"
    line = f"{_stamp[1]},{int(now * 1000) % 1000:03d} job {visible(job.id, keep_newlines=False)} {what}\n"
    try:
        os.write(2, line.encode(errors="backslashreplace"))
    except OSError:  # stderr closed, or a pipe nobody reads any more: the line is only for a watcher
        pass
