"""The commands that read or change jobs already queued: list, show, logs, status, wait and cancel."""

from __future__ import annotations

import sys
import time

from core.errors import InvalidInput, QueueError
from core.models import FINISHED, PRUNED, setting_text
from core.text import line_start, output_tail, text_env, visible

from .output import (EXIT_FAILED, EXIT_OK, out, plural, print_jobs, print_json, print_queues, short_time, table,
                     write_output)
from .parser import check_limit, check_timeout

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse

    from core.queue import Queue


def cmd_list(q: Queue, args: argparse.Namespace) -> int:
    print_jobs(q.jobs(args.state, check_limit(args.limit), queue=args.queue), args.json)
    return EXIT_OK


SHOW_BYTES, SHOW_LINES = 4096, 40  # `show` prints at most this much of each stream of each attempt


def field_text(value: object) -> str:
    """A field as `show` prints it: env as NAME=value pairs, shell-quoted (as enqueue's form takes
    them), a list of ids space-separated, nothing as -."""
    if isinstance(value, dict) and text_env(value) is not None:
        import shlex  # only here: short commands do not load re's users they do not need

        return " ".join(f"{name}={shlex.quote(text)}" for name, text in value.items()) or "-"
    if isinstance(value, list):
        return " ".join(value) or "-"
    return "-" if value is None else str(value)


def cmd_show(q: Queue, args: argparse.Namespace) -> int:
    if args.json:
        print_json(q.job(args.id).to_dict(with_runs=True))
        return EXIT_OK
    job = q.job(args.id, tail=SHOW_BYTES)  # the tails only: a 64 MiB output is not read whole
    for key, value in job.to_dict().items():
        if key == "timeout" and value is None:
            value = f"config job-timeout ({setting_text(q.settings().job_timeout)}s, 0 = none)"
        out(f"{key + ':':<13} {visible(field_text(value), keep_newlines=False)}")
    if not job.runs:
        out("\nno finished attempts yet")
    for run in job.runs:
        duration = "-" if run.duration is None else f"{run.duration:.3f}s"
        result = "ok" if run.error is None else visible(run.error)
        out(f"\nattempt #{run.number} (try {run.attempt}): {result}; took {duration}; "
            f"started {short_time(run.started_at)}; worker {visible(run.worker or '-')}")
        streams = (("stdout", run.stdout, run.stdout_dropped, run.stdout_unread),
                   ("stderr", run.stderr, run.stderr_dropped, run.stderr_unread))
        for name, data, dropped, unread in streams:
            if not (data or dropped or unread):
                continue
            hint = f" (queuectl logs {visible(job.id, keep_newlines=False)} --attempt {run.number} prints them)"
            marker, data = output_tail(data, dropped, unread, SHOW_LINES, hint)
            text = data.decode("utf-8", "replace")
            lines = text.removesuffix("\n").split("\n") if text else []
            out(f"  {name} ({'last ' if marker else ''}{plural(len(lines), 'line')}):")
            if marker:
                out(f"    {marker}")
            for line in lines:
                out("    " + visible(line, keep_newlines=False))
    return EXIT_OK


def cmd_logs(q: Queue, args: argparse.Namespace) -> int:
    if args.follow:
        return follow_logs(q, args.id, args.attempt)
    # a running attempt is the last, with its output so far; of the stored ones, only the output shown is read
    job = q.job(args.id, live=True, output_of=-1 if args.attempt is None else max(1, args.attempt))
    if not job.runs:
        raise QueueError(f"job {args.id!r} has not started yet (--follow waits for it)")
    if args.attempt is None:
        run = job.runs[-1]
    elif 1 <= args.attempt <= len(job.runs):
        run = job.runs[args.attempt - 1]
    else:
        raise InvalidInput(f"--attempt must be between 1 and {len(job.runs)} for job {args.id!r}")
    write_output(run.stdout, run.stdout_dropped, sys.stdout)
    write_output(run.stderr, run.stderr_dropped, sys.stderr)
    return EXIT_OK


def follow_logs(q: Queue, job_id: str, number: int | None) -> int:
    """Each new piece of output as it comes, to the stream it was written to: raw bytes when piped,
    escape sequences made visible on a terminal. What no read caught is said on stderr, in a line."""
    from core.follow import Follow
    import codecs

    follow = Follow(q, job_id, number)
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in streams}
    for piece in follow.pieces():
        stream, data, skipped = streams[piece.stream], piece.data, piece.skipped
        if skipped and stream.isatty():  # a terminal goes on at a line's start, as `logs` does
            start = line_start(data)
            data, skipped = data[start:], skipped + start
        if skipped:
            sys.stdout.flush()
            print(f"... {skipped:,} bytes of {piece.stream} skipped (more than output-limit between two reads)",
                  file=sys.stderr, flush=True)
        if stream.isatty():
            stream.write(visible(decoders[piece.stream].decode(data)))
            stream.flush()
        else:
            stream.flush()
            stream.buffer.write(data)
            stream.buffer.flush()
    return EXIT_OK if follow.ok else EXIT_FAILED


STATUS_QUEUES = 20  # status is a summary: `queue list` lists every queue


def busiest(queues: list) -> list:
    """At most STATUS_QUEUES queues, by name: those with the most jobs not finished."""
    if len(queues) <= STATUS_QUEUES:
        return queues
    top = sorted(queues, key=lambda i: i.counts["pending"] + i.counts["failed"] + i.counts["processing"], reverse=True)
    return sorted(top[:STATUS_QUEUES], key=lambda i: i.name)


def cmd_status(q: Queue, args: argparse.Namespace) -> int:
    f = q.figures()
    if args.json:
        finished = {state: sum(n for (_, s), n in f.finished.items() if s == state) for state in ("completed", "dead")}
        print_json({"counts": f.counts, "workers": [w.to_dict() for w in f.workers],
                    "queues": [info.to_dict() for info in f.queues],
                    "latency_seconds": round(f.latency, 3), "finished_total": finished})
        return EXIT_OK
    table(["STATE", "JOBS"], [[s, str(n)] for s, n in f.counts.items()])
    if [info.name for info in f.queues] not in ([], ["default"]) or any(i.limit or i.paused for i in f.queues):
        out()
        print_queues(busiest(f.queues))
        if len(f.queues) > STATUS_QUEUES:
            out(f"({STATUS_QUEUES} of {len(f.queues):,} queues: those with the most unfinished jobs;"
                " all in `queue list`)")
    out(f"\nworkers: {len(f.workers)} live ({f.busy} busy, {len(f.workers) - f.busy} idle)")
    if f.latency:
        out(f"the oldest due job has waited {f.latency:.1f}s")
    return EXIT_OK


def cmd_wait(q: Queue, args: argparse.Namespace) -> int:
    check_timeout(args.timeout)
    states = q.wait(args.ids, args.timeout)
    for job_id, state in states.items():
        out(f"{visible(job_id)}  {visible(state)}")
    if any(s not in (*FINISHED, PRUNED) for s in states.values()):
        raise QueueError(f"timed out after {args.timeout:g}s waiting for jobs to finish")
    return EXIT_OK if all(s == "completed" for s in states.values()) else EXIT_FAILED


def cmd_cancel(q: Queue, args: argparse.Namespace) -> int:
    for _ in range(3):
        if q.cancel(args.id) == "cancelled":
            out(f"cancelled {visible(args.id)}")
            return EXIT_OK
        # Running: its worker kills it. It may also end on its own first, or fail into a retry.
        deadline = time.monotonic() + 10
        state = q.job(args.id, runs=False).state
        while state == "processing" and time.monotonic() < deadline:
            time.sleep(0.05)
            state = q.job(args.id, runs=False).state
        if state == "processing":
            out(f"cancel requested for {visible(args.id)}: its worker will kill it")
            return EXIT_OK
        if state == "dead":
            out(f"cancelled {visible(args.id)} (killed while running)")
            return EXIT_OK
        if state == "completed":
            raise QueueError(f"job {args.id!r} completed before it could be cancelled")
    raise QueueError(f"job {args.id!r} keeps changing state; try again")
