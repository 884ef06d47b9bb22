"""`worker start`, `worker stop` and `worker list`."""

from __future__ import annotations

import os
import sys
import time

from core.errors import InvalidInput, QueueError, StorageError
from core.models import SETTINGS
from core.text import visible

from .output import EXIT_FAILED, EXIT_OK, print_json, short_time, table
from .parser import check_timeout

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse

    from core.queue import Queue


def cmd_worker(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        workers = q.workers()
        if args.json:
            print_json([w.to_dict() for w in workers])
        elif not workers:
            print("no live workers", file=sys.stderr)
        else:
            # another machine's worker writes its own id and host: shown, never obeyed
            table(["ID", "HOST", "PID", "JOB", "STARTED (UTC)", "HEARTBEAT (UTC)"],
                  [[*(visible(text, keep_newlines=False) for text in (w.id, w.host)), str(w.pid),
                    visible(w.job_id or "-"), short_time(w.started_at), short_time(w.heartbeat_at)] for w in workers])
        return EXIT_OK
    if args.action == "stop":
        return worker_stop(q, args.timeout)
    return worker_start(q, args.count, args.burst, args.queue)


def worker_stop(q: Queue, timeout: float | None) -> int:
    check_timeout(timeout)
    asked = set(q.request_stop())
    if not asked:
        print("no live workers", file=sys.stderr)
        return EXIT_OK
    print(f"asked {len(asked)} worker(s) to stop; waiting for their running jobs", file=sys.stderr)
    deadline = None if timeout is None else time.monotonic() + timeout
    while asked & {w.id for w in q.workers()}:
        if deadline is not None and time.monotonic() > deadline:
            raise QueueError(f"workers still running after {timeout:g}s")
        time.sleep(0.2)
    print("all workers stopped", file=sys.stderr)
    return EXIT_OK


def worker_start(q: Queue, count: int | None, burst: bool, queues: list[str] | None = None) -> int:
    from core.pool import Pool
    from core.process_pool import STOP_SIGNALS, ProcessPool
    from core.signal_relay import SignalRelay
    from core.worker_log import configure_logging, print_job_end

    size = q.settings().worker_count if count is None else count
    most = int(SETTINGS["worker-count"].high)
    if count is None and size == 0:  # a setting the app reads as "watch only"
        raise InvalidInput("the worker-count setting is 0 (the app then only watches): give --count N to start workers")
    if not 1 <= size <= most:
        raise InvalidInput(f"--count must be between 1 and {most}, got {size}")
    configure_logging()
    # More than one worker: one OS process each, so jobs do not take turns on one interpreter lock.
    queues = list(dict.fromkeys(queues)) if queues else None
    pool = (Pool(q, size, burst=burst, on_job_end=print_job_end, queues=queues) if size == 1
            else ProcessPool(q.store.url, size, burst=burst, queues=queues))  # the workers need the password; q.location hides it
    signals = {"n": 0}

    def on_signal(signum: int) -> None:
        signals["n"] += 1
        if signals["n"] == 1:
            say("stopping: running jobs finish (signal again to kill them)")
            pool.stop()
        else:
            say("killing running jobs")
            pool.kill()

    # SIGHUP too: a closed terminal or ssh session stops the workers as SIGTERM does. Left to its
    # default, it killed them at once and their running jobs went on unwatched, to run again later.
    relay = SignalRelay(STOP_SIGNALS, on_signal)
    serving = f", queues {', '.join(queues)}" if queues else ""
    print(f"{size} worker(s) on {q.location}{serving}{' (burst)' if burst else ''}; pid {os.getpid()}", file=sys.stderr)
    pool.start()
    relay.start()
    said: set[tuple[str | None, float]] = set()
    while not pool.join(timeout=0.5):
        if burst:
            try:
                say_what_burst_waits_for(q, said, queues)
            except StorageError:  # unsaid: the workers ride the outage out, and log it
                pass
    for error in pool.errors:  # a worker that failed, or a worker process that died (SIGSEGV, OOM)
        print(f"error: {error}", file=sys.stderr)
    return EXIT_FAILED if pool.errors else EXIT_OK


def say(line: str) -> None:
    """A line on stderr that may be a terminal gone with SIGHUP: then it is not said."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def say_what_burst_waits_for(q: Queue, said: set[tuple[str | None, float]], queues: list[str] | None = None) -> None:
    """A --burst worker stays while a job is not due yet: say so, once per job and due time, when
    nothing runs. The time is local, as on the worker's other lines."""
    now = time.time()
    due = q.store.next_due(queues)
    if due is None or due <= now + 0.5 or q.counts()["processing"]:
        return
    # the next to run is the earliest due (the first 100 in claim order hold it but in a huge backlog)
    first = min(q.jobs(["pending", "failed"], 100, order="claim", queue=queues), key=lambda j: (j.run_at, -j.priority), default=None)
    job_id = first.id if first is not None and first.run_at == due else None
    if (job_id, due) in said:
        return
    said.add((job_id, due))
    what = "the next job" if job_id is None else f"job {visible(job_id)}"
    print(f"waiting for {what} due at {time.strftime('%H:%M:%S', time.localtime(due))} (in {due - now:.1f}s)",
          file=sys.stderr, flush=True)
