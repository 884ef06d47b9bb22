"""The headless CLI (`queuectl`, `queuectl-tui --headless`). Imports Textual only to open the app."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from core.clock import to_iso
from core.errors import Conflict, InvalidInput, QueueError
from core.models import SETTINGS, STATES, Job, setting_text
from core.queue import InvalidItem, ItemConflict, ItemError, Queue
from core.text import line_start, output_tail, visible
from core.validate import check_queue, parse_duration, parse_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn, Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (exit 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter without its `import shutil` (a twentieth of a command's start-up): every
    add_argument() makes a formatter, and its default width came from shutil.get_terminal_size()."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


_columns: int | None = None


def terminal_columns() -> int:
    """What shutil.get_terminal_size() gives: $COLUMNS, else the terminal's width, else 80."""
    global _columns
    if _columns is None:
        try:
            _columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                _columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (AttributeError, ValueError, OSError):
                _columns = 80
    return _columns


def _example(text: str) -> dict[str, Any]:
    return {"epilog": "example:\n  " + text, "formatter_class": Formatter}


def db_location(text: str) -> str:
    """--db: an empty value is a mistake (an unset variable, say), not a request for the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def duration(text: str) -> float:
    """A --timeout or --older-than: seconds, or 90s, 5m, 12h, 7d, 2w (core's one reading of them)."""
    try:
        return parse_duration(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(prog: str, tui: bool, only: str | None = None) -> Parser:
    """The whole command line, or (only=COMMAND) the top level with that one command: a command
    runs in a few tens of milliseconds, and building the twenty sub-parsers it does not use took
    a third of that."""
    parser = Parser(
        prog=prog,
        description="A persistent job queue for shell commands."
        + (" Without a command, opens the full-screen app." if tui else ""),
        **_example(
            f"{prog} enqueue '{{\"command\": \"echo hello\", \"max_retries\": 2}}'\n"
            f"  {prog} worker start --count 4"
        ),
    )
    parser.add_argument("--db", metavar="DB", type=db_location,
                        help="SQLite file or postgresql:// URL (default: $QUEUECTL_DB, "
                        "else jobs.db in the user data directory)")
    if tui:
        parser.add_argument("--headless", action="store_true", help="run COMMAND without the screen")
        parser.add_argument("--workers", type=int, metavar="N",
                            help="size of the app's embedded worker pool (default: config worker-count; 0 = monitor only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, add in SUBCOMMANDS.items():
        if only is None or name == only:
            add(sub, prog)
    return parser


def command_word(argv: Sequence[str], tui: bool) -> str | None:
    """The COMMAND of argv when it is plainly there (after --db and, for the app, --workers and
    --headless), so that only its parser is built; None means: build them all."""
    takes_value = {"--db", "--workers"} if tui else {"--db"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in takes_value:
            i += 2
        elif arg.split("=", 1)[0] in takes_value or (tui and arg == "--headless"):
            i += 1
        else:
            return arg if arg in SUBCOMMANDS else None
    return None


def _add_enqueue(sub, prog: str) -> None:
    p = sub.add_parser("enqueue", help="add a job (JSON object), or many from stdin with -",
                       **_example(f"{prog} enqueue '{{\"id\": \"backup\", \"command\": \"tar czf /tmp/b.tgz ~/docs\", "
                                  f"\"timeout\": 600}}'\n  printf '%s\\n' '{{\"command\": \"true\"}}' | {prog} enqueue -"))
    p.add_argument("job", metavar="JSON", help="a job object, or - to read one object per line from stdin")


def queue_names(text: str) -> list[str]:
    """A --queue: one name, or several as a,b (the option also repeats)."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        try:
            check_queue(name)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def _add_queue_option(p) -> None:
    p.add_argument("--queue", type=queue_names, action="extend", metavar="Q",
                   help="only this queue (repeat, or a,b, for several)")


def _add_list(sub, prog: str) -> None:
    p = sub.add_parser("list", help="list jobs, newest first", **_example(f"{prog} list --state dead --limit 10"))
    p.add_argument("--state", choices=STATES)
    _add_queue_option(p)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON only")


def _add_show(sub, prog: str) -> None:
    p = sub.add_parser("show", help="one job with its attempt history", **_example(f"{prog} show backup --json"))
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON only")


def _add_logs(sub, prog: str) -> None:
    p = sub.add_parser("logs", help="captured output of the last (or Nth) attempt; -f follows it as it runs",
                       **_example(f"{prog} logs backup --follow"))
    p.add_argument("id")
    p.add_argument("--attempt", type=int, metavar="N", help="the Nth attempt in the job's history (1 = first)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="print the output as it is written until the attempt ends (waits for a job not started"
                        " yet); exit 0 if it completed, else 1")


def _add_status(sub, prog: str) -> None:
    p = sub.add_parser("status", help="counts per state and the live workers", **_example(f"{prog} status --json"))
    p.add_argument("--json", action="store_true", help="print JSON only")


def _add_wait(sub, prog: str) -> None:
    p = sub.add_parser("wait", help="block until jobs are completed or dead (exit 1 unless all completed)",
                       **_example(f"{prog} wait backup report --timeout 60"))
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--timeout", type=duration, metavar="S", help="give up after S seconds (or 90s, 5m, 2h)")


def _add_cancel(sub, prog: str) -> None:
    p = sub.add_parser("cancel", help="cancel a waiting job, or kill a running one; it goes to dead",
                       **_example(f"{prog} cancel backup"))
    p.add_argument("id")


def _add_worker(sub, prog: str) -> None:
    worker = sub.add_parser("worker", help="run, stop or list workers", **_example(f"{prog} worker start --count 4"))
    wsub = worker.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = wsub.add_parser("start", help="run workers in the foreground until SIGINT/SIGTERM or `worker stop`",
                        **_example(f"{prog} worker start --count 4 --burst"))
    p.add_argument("--count", type=int, metavar="N", help="number of workers (default: config worker-count)")
    p.add_argument("--burst", action="store_true", help="exit once no job is pending or awaiting a retry")
    _add_queue_option(p)
    p = wsub.add_parser("stop", help="ask every live worker to finish its job and exit",
                        **_example(f"{prog} worker stop --timeout 60"))
    p.add_argument("--timeout", type=duration, metavar="S",
                   help="give up waiting after S seconds, or 90s, 5m, 2h (exit 1)")
    p = wsub.add_parser("list", help="live workers", **_example(f"{prog} worker list --json"))
    p.add_argument("--json", action="store_true", help="print JSON only")


def _add_dlq(sub, prog: str) -> None:
    dlq = sub.add_parser("dlq", help="the dead-letter queue", **_example(f"{prog} dlq retry --all"))
    dsub = dlq.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = dsub.add_parser("list", help="dead jobs, newest first", **_example(f"{prog} dlq list --json"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON only")
    p = dsub.add_parser("retry", help="dead jobs back to pending, attempts reset",
                        **_example(f"{prog} dlq retry backup report"))
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="retry every dead job")


def _add_config(sub, prog: str) -> None:
    config = sub.add_parser("config", help="settings kept in the database", **_example(f"{prog} config set max-retries 5"))
    csub = config.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = csub.add_parser("list", help="every setting with its value", **_example(f"{prog} config list --json"))
    p.add_argument("--json", action="store_true", help="print JSON only")
    p = csub.add_parser("get", help="one setting", **_example(f"{prog} config get backoff-base"))
    p.add_argument("key", metavar="KEY")
    p = csub.add_parser("set", help="change a setting; running workers pick it up within one poll",
                        description="Change a setting. Settings in seconds also take a duration: 90s, 5m, 12h, 7d.",
                        **_example(f"{prog} config set job-timeout 5m"))
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", metavar="VALUE")


def _add_prune(sub, prog: str) -> None:
    p = sub.add_parser("prune", help="delete finished jobs older than a duration",
                       **_example(f"{prog} prune --state completed --older-than 7d"))
    p.add_argument("--state", required=True, choices=("completed", "dead"))
    p.add_argument("--older-than", required=True, type=duration, metavar="DURATION", help="e.g. 90s, 30m, 12h, 7d, 2w")


def _add_queue(sub, prog: str) -> None:
    queue = sub.add_parser("queue", help="queues: limits and pauses", **_example(f"{prog} queue limit gpu 2"))
    qsub = queue.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = qsub.add_parser("list", help="every queue with jobs or settings: counts, limit, paused",
                        **_example(f"{prog} queue list --json"))
    p.add_argument("--json", action="store_true", help="print JSON only")
    p = qsub.add_parser("limit", help="at most N jobs of the queue processing at once (0 = no limit)",
                        **_example(f"{prog} queue limit deploy 1"))
    p.add_argument("name", metavar="NAME")
    p.add_argument("limit", metavar="N")
    for action, what in (("pause", "claim none of the queue's jobs (running ones finish)"),
                         ("resume", "claim the queue's jobs again")):
        p = qsub.add_parser(action, help=what, **_example(f"{prog} queue {action} mail"))
        p.add_argument("name", metavar="NAME")


def _add_metrics(sub, prog: str) -> None:
    p = sub.add_parser("metrics", help="the queue's figures in the Prometheus text format",
                       **_example(f"{prog} metrics --serve 9100"))
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="answer GET /metrics there (host 127.0.0.1 unless given) until SIGINT/SIGTERM")


def _add_schedule(sub, prog: str) -> None:
    schedule = sub.add_parser("schedule", help="recurring jobs: cron expressions in a time zone",
                              **_example(f"{prog} schedule add nightly '30 2 * * *' "
                                         f"'{{\"command\": \"backup.sh\"}}' --tz Europe/Berlin"))
    ssub = schedule.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = ssub.add_parser("add", help="enqueue a job each time CRON matches in ZONE",
                        description="CRON has 5 fields: minute hour day-of-month month day-of-week, with ranges "
                                    "(1-5), steps (*/15), lists (1,15) and names (MON, JAN). JSON takes the enqueue "
                                    "fields but id and run_at; each job's id is NAME:YYYYmmddTHHMMZ (its due time).",
                        **_example(f"{prog} schedule add sync '*/15 * * * *' '{{\"command\": \"sync.sh\"}}'"))
    p.add_argument("name", metavar="NAME")
    p.add_argument("cron", metavar="CRON")
    p.add_argument("job", metavar="JSON")
    p.add_argument("--tz", default="UTC", metavar="ZONE", help="IANA time zone, e.g. Europe/Berlin (default UTC)")
    p = ssub.add_parser("list", help="schedules: next and last due time, last job", **_example(f"{prog} schedule list"))
    p.add_argument("--json", action="store_true", help="print JSON only")
    for action, text in (("rm", "delete a schedule (its jobs stay)"), ("pause", "fire no more jobs until resumed"),
                         ("resume", "fire again, from the next due time after now")):
        p = ssub.add_parser(action, help=text, **_example(f"{prog} schedule {action} nightly"))
        p.add_argument("name", metavar="NAME")


SUBCOMMANDS = {"enqueue": _add_enqueue, "list": _add_list, "show": _add_show, "logs": _add_logs, "status": _add_status,
               "wait": _add_wait, "cancel": _add_cancel, "worker": _add_worker, "dlq": _add_dlq, "config": _add_config,
               "prune": _add_prune, "queue": _add_queue, "metrics": _add_metrics, "schedule": _add_schedule}


# --- output helpers -----------------------------------------------------------------------------


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def print_json(data: Any) -> None:
    import json  # imported where used: plain `status` should not pay for it

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def short_time(ts: float | None) -> str:
    iso = to_iso(ts)
    return "-" if iso is None else iso[:19].replace("T", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns; the last column is cut to the terminal width on a terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    limit = os.get_terminal_size().columns if sys.stdout.isatty() else None
    for row in [headers, *rows]:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths[:-1]))
        line = f"{line}  {row[-1]}" if line else row[-1]
        if limit and len(line) > limit:
            line = line[: limit - 1] + "…"
        out(line.rstrip())


def job_rows(jobs: Sequence[Job]) -> list[list[str]]:
    return [
        [visible(j.id), j.state, j.queue, f"{j.attempts}/{j.max_retries + 1}", str(j.priority), short_time(j.updated_at),
         visible(j.command, keep_newlines=False)]
        for j in jobs
    ]


def print_jobs(jobs: Sequence[Job], as_json: bool) -> None:
    if as_json:
        print_json([j.to_dict() for j in jobs])
    elif not jobs:
        print("no jobs", file=sys.stderr)
    else:
        table(["ID", "STATE", "QUEUE", "TRIES", "PRI", "UPDATED (UTC)", "COMMAND"], job_rows(jobs))


CHUNK = 1 << 16


def write_output(data: bytes, dropped: int, stream) -> None:
    """Captured bytes as they are when piped; on a terminal, escape sequences made visible, and a
    cut output starting at a line boundary. What was not kept is said on stderr, if a terminal:
    never in the bytes of a pipe. Written a piece at a time: no whole copy of the output is made."""
    if stream.isatty():
        marker, data = output_tail(data, dropped)
    else:
        marker = output_tail(b"", dropped)[0]  # the count alone: the bytes stay exact
    if marker and sys.stderr.isatty():
        sys.stdout.flush()
        print(marker, file=sys.stderr, flush=True)
    view = memoryview(data)
    if stream.isatty():
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for start in range(0, len(view), CHUNK):
            stream.write(visible(decoder.decode(view[start:start + CHUNK])))
        stream.write(visible(decoder.decode(b"", final=True)))
        stream.flush()
    else:
        stream.flush()
        for start in range(0, len(view), CHUNK):
            stream.buffer.write(view[start:start + CHUNK])
        stream.buffer.flush()


def check_timeout(timeout: float | None) -> None:
    if timeout is not None and not timeout >= 0:  # NaN compares false: it would never time out
        raise InvalidInput(f"--timeout must be a number of seconds >= 0, got {timeout:g}")


def check_limit(limit: int) -> int:
    if limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    return limit


# --- commands -----------------------------------------------------------------------------------


def with_absolute_cwd(obj: Any) -> Any:
    """A job whose cwd is relative gets it made absolute against this directory, as it is stored."""
    if isinstance(obj, dict) and isinstance(obj.get("cwd"), str) and obj["cwd"] and not obj["cwd"].startswith("/"):
        try:
            here = os.getcwd()
        except OSError as exc:  # the directory we are in was removed
            raise InvalidInput(f"cwd {obj['cwd']!r} is relative, and this directory is gone: {exc.strerror}") from None
        obj = {**obj, "cwd": os.path.normpath(os.path.join(here, obj["cwd"]))}
    return obj


def cmd_enqueue(q: Queue, args: argparse.Namespace) -> int:
    if args.job == "-":
        return enqueue_stdin(q)
    obj = with_absolute_cwd(parse_json(args.job))
    existing: dict[int, str] = {}
    try:
        ids = q.enqueue_many([obj], existing=existing)
    except ItemError as exc:  # one job: no "item 1: " before the reason
        raise exc.alone() from None
    say_existing(existing, [obj], [""])
    out(ids[0])
    return EXIT_OK


def enqueue_stdin(q: Queue) -> int:
    lines: list[int] = []  # line number of each object, for error messages
    objects: list[Any] = []
    for number, line in enumerate(sys.stdin, 1):
        if number == 1:
            line = line.removeprefix("\ufeff")  # the byte-order mark some editors put first
        if not line.strip():
            continue
        try:
            objects.append(with_absolute_cwd(parse_json(line)))
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
        lines.append(number)
    if not objects:
        raise InvalidInput("no jobs on stdin (one JSON object per line)")
    progress = sys.stderr.isatty() and len(objects) >= 20_000
    existing: dict[int, str] = {}
    try:
        if progress:
            ids = with_progress(len(objects), lambda tick: q.enqueue_many(objects, tick, existing))
        else:
            ids = q.enqueue_many(objects, existing=existing)
    except InvalidItem as exc:  # items are counted without the blank lines: name the line
        reason = exc.reason
        if exc.other is not None:
            reason = reason.replace(f"item {exc.other + 1}", f"line {lines[exc.other]}")
        raise InvalidInput(f"line {lines[exc.index]}: {reason}") from None
    except ItemConflict as exc:
        raise Conflict(f"line {lines[exc.index]}: {exc.reason}") from None
    say_existing(existing, objects, [f"line {n}" for n in lines])
    sys.stdout.write("".join(f"{i}\n" for i in ids))
    return EXIT_OK


def say_existing(existing: dict[int, str], objects: Sequence[Any], names: Sequence[str]) -> None:
    """A note on stderr for each job not inserted because an unfinished job holds its unique_key."""
    for index, holder in existing.items():
        key = objects[index].get("unique_key")
        print(f"note: {names[index] + ': ' if names[index] else ''}job {visible(holder)} holds unique_key {visible(repr(key))} and is not"
              f" finished: nothing enqueued", file=sys.stderr)


def with_progress(total: int, work: Callable[[Callable[[int], None]], Any]) -> Any:
    from rich.console import Console  # only on a terminal, only for large inputs
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:  # stdout carries the ids
        task = bar.add_task("enqueue", total=total)
        return work(lambda done: bar.update(task, completed=done))


def cmd_list(q: Queue, args: argparse.Namespace) -> int:
    print_jobs(q.jobs(args.state, check_limit(args.limit), queue=args.queue), args.json)
    return EXIT_OK


SHOW_BYTES, SHOW_LINES = 4096, 40  # `show` prints at most this much of each stream of each attempt


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def cmd_show(q: Queue, args: argparse.Namespace) -> int:
    if args.json:
        print_json(q.job(args.id).to_dict(with_runs=True))
        return EXIT_OK
    job = q.job(args.id, tail=SHOW_BYTES)  # the tails only: a 64 MiB output is not read whole
    for key, value in job.to_dict().items():
        if key == "timeout" and value is None:
            value = f"config job-timeout ({setting_text(q.settings().job_timeout)}s, 0 = none)"
        out(f"{key + ':':<13} {visible(str(value if value is not None else '-'), keep_newlines=False)}")
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
    job = q.job(args.id, live=True)  # a running attempt is the last, with its output so far
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
        print_queues(f.queues)
    out(f"\nworkers: {len(f.workers)} live ({f.busy} busy, {len(f.workers) - f.busy} idle)")
    if f.latency:
        out(f"the oldest due job has waited {f.latency:.1f}s")
    return EXIT_OK


def print_queues(queues: Sequence[Any]) -> None:
    table(["QUEUE", *(s.upper() for s in STATES), "LIMIT", "PAUSED"],
          [[i.name, *(str(i.counts[s]) for s in STATES), str(i.limit or "-"), "yes" if i.paused else "no"]
           for i in queues])


def cmd_queue(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        queues = q.queues()
        if args.json:
            print_json([info.to_dict() for info in queues])
        elif not queues:
            print("no queues (a queue exists once it has a job, a limit or a pause)", file=sys.stderr)
        else:
            print_queues(queues)
    elif args.action == "limit":
        limit = q.set_queue_limit(args.name, args.limit)
        out(f"queue {args.name}: " + (f"at most {limit} processing at once" if limit else "no limit"))
    else:
        q.pause_queue(args.name, args.action == "pause")
        out(f"queue {args.name}: {'paused' if args.action == 'pause' else 'resumed'}")
    return EXIT_OK


def cmd_wait(q: Queue, args: argparse.Namespace) -> int:
    check_timeout(args.timeout)
    states = q.wait(args.ids, args.timeout)
    for job_id, state in states.items():
        out(f"{visible(job_id)}  {state}")
    if any(s not in ("completed", "dead") for s in states.values()):
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


def cmd_worker(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        workers = q.workers()
        if args.json:
            print_json([w.to_dict() for w in workers])
        elif not workers:
            print("no live workers", file=sys.stderr)
        else:
            table(["ID", "HOST", "PID", "JOB", "STARTED (UTC)", "HEARTBEAT (UTC)"],
                  [[w.id, w.host, str(w.pid), visible(w.job_id or "-"), short_time(w.started_at),
                    short_time(w.heartbeat_at)] for w in workers])
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
    from core.process_pool import ProcessPool
    from core.worker_log import configure_logging, print_job_end

    size = q.settings().worker_count if count is None else count
    most = int(SETTINGS["worker-count"].high)
    if not 1 <= size <= most:
        raise InvalidInput(f"--count must be between 1 and {most}, got {size}")
    configure_logging()
    # More than one worker: one OS process each, so jobs do not take turns on one interpreter lock.
    queues = list(dict.fromkeys(queues)) if queues else None
    pool = (Pool(q, size, burst=burst, on_job_end=print_job_end, queues=queues) if size == 1
            else ProcessPool(q.store.url, size, burst=burst, queues=queues))  # the workers need the password; q.location hides it
    signals = {"n": 0}

    def on_signal(signum: int, frame: Any) -> None:
        signals["n"] += 1
        if signals["n"] == 1:
            print("stopping: running jobs finish (signal again to kill them)", file=sys.stderr)
            pool.stop()
        else:
            print("killing running jobs", file=sys.stderr)
            pool.kill()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    serving = f", queues {', '.join(queues)}" if queues else ""
    print(f"{size} worker(s) on {q.location}{serving}{' (burst)' if burst else ''}; pid {os.getpid()}", file=sys.stderr)
    pool.start()
    said: set[tuple[str | None, float]] = set()
    while not pool.join(timeout=0.5):
        if burst:
            say_what_burst_waits_for(q, said, queues)
    for error in pool.errors:  # a worker that failed, or a worker process that died (SIGSEGV, OOM)
        print(f"error: {error}", file=sys.stderr)
    return EXIT_FAILED if pool.errors else EXIT_OK


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


def cmd_dlq(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        print_jobs(q.jobs("dead", check_limit(args.limit), order="finished"), args.json)
        return EXIT_OK
    if args.all == bool(args.ids):
        raise InvalidInput("give job ids or --all, not both and not neither")
    moved = q.retry_dead(None if args.all else args.ids)
    out(f"retried {len(moved)} job(s)")
    return EXIT_OK


def cmd_config(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        config = q.config()
        if args.json:
            print_json(config)
        else:
            table(["KEY", "VALUE", "MEANING"], [[k, setting_text(v), SETTINGS[k].help] for k, v in config.items()])
    elif args.action == "get":
        out(setting_text(q.get_setting(args.key)))
    else:
        out(f"{args.key} = {setting_text(q.set_setting(args.key, args.value))}")
    return EXIT_OK


def cmd_prune(q: Queue, args: argparse.Namespace) -> int:
    deleted = q.prune(args.state, args.older_than)
    out(f"deleted {deleted} {args.state} job(s)")
    return EXIT_OK


def cmd_metrics(q: Queue, args: argparse.Namespace) -> int:
    from queuectl_tui import metrics

    if args.serve is None:
        sys.stdout.buffer.write(metrics.exposition(q))
    else:
        metrics.serve(q, args.serve)
    return EXIT_OK


def cmd_schedule(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "add":
        found = q.add_schedule(args.name, args.cron, parse_json(args.job), args.tz)
        out(f"{visible(found.name)}: next due {to_iso(found.next_due)}")
    elif args.action == "list":
        found = q.schedules()
        if args.json:
            print_json([s.to_dict() for s in found])
        else:
            table(["NAME", "CRON", "ZONE", "NEXT DUE (UTC)", "LAST DUE", "LAST JOB", "STATE", "PAUSED"],
                  [[visible(s.name), s.cron, s.tz, to_iso(s.next_due) or "", to_iso(s.last_due) or "-",
                    visible(s.last_job or "-"), s.last_state or "-", "yes" if s.paused else "no"] for s in found])
    elif args.action == "rm":
        q.remove_schedule(args.name)
        out(f"removed schedule {visible(args.name)}")
    else:
        q.pause_schedule(args.name, args.action == "pause")
        out(f"{'paused' if args.action == 'pause' else 'resumed'} schedule {visible(args.name)}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Queue, argparse.Namespace], int]] = {
    "enqueue": cmd_enqueue, "list": cmd_list, "show": cmd_show, "logs": cmd_logs, "status": cmd_status,
    "wait": cmd_wait, "cancel": cmd_cancel, "worker": cmd_worker, "dlq": cmd_dlq, "config": cmd_config,
    "prune": cmd_prune, "queue": cmd_queue, "metrics": cmd_metrics, "schedule": cmd_schedule,
}

# The commands that create a missing database (a SQLite file, in an existing folder unless it is the
# default location): the others need it to exist, so a mistyped --db makes nothing.
CREATING = {("enqueue", None), ("worker", "start"), ("config", "set"), ("queue", "limit"), ("queue", "pause"),
            ("queue", "resume"), ("schedule", "add")}


def run(argv: Sequence[str], prog: str, tui: bool) -> int:
    parser = build_parser(prog, tui, command_word(argv, tui))
    location = os.environ.get("QUEUECTL_DB")  # whose passwords no message may show
    try:
        args = parser.parse_args(argv)
        location = args.db or location
        if args.command is None:
            if tui and not args.headless:
                return open_app(args.db, args.workers)
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        with Queue.open(args.db, create=(args.command, getattr(args, "action", None)) in CREATING) as q:
            return COMMANDS[args.command](q, args)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE, location)
    except InvalidInput as exc:
        return fail(str(exc), EXIT_USAGE, location)
    except QueueError as exc:
        return fail(str(exc), EXIT_FAILED, location)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # quiet exit under `| head`
        return EXIT_OK
    except Exception as exc:  # a bug: still one line, as the contract promises; QUEUECTL_DEBUG=1 shows it all
        if os.environ.get("QUEUECTL_DEBUG"):
            raise
        return fail(f"internal error ({type(exc).__name__}: {exc}); rerun with QUEUECTL_DEBUG=1 for details",
                    EXIT_FAILED, location)


def fail(message: str, code: int, location: str | None = None) -> int:
    """The one error line. The engine's messages never hold a password; scrub() makes sure of it."""
    from core.location import scrub  # only on errors: plain commands do not pay for it

    print(f"error: {visible(scrub(message, location), keep_newlines=False)}", file=sys.stderr)
    return code


def open_app(db: str | None, workers: int | None) -> int:
    if workers is not None and workers < 0:
        return fail(f"--workers must be >= 0, got {workers}", EXIT_USAGE)
    from .app import run_app  # the only import of Textual

    return run_app(db, workers)


def main_queuectl() -> None:
    sys.exit(run(sys.argv[1:], "queuectl", tui=False))


def main_tui() -> None:
    sys.exit(run(sys.argv[1:], "queuectl-tui", tui=True))
