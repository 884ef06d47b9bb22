"""The command line: its parser, built with only the command given, and the checks of option values."""

from __future__ import annotations

import argparse
import os
import sys

from core.errors import InvalidInput
from core.models import STATES
from core.validate import check_queue, parse_duration

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, NoReturn, Sequence


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


def state_names(*choices: str):
    """A --state: one state, or several as a,b (the option also repeats), each one of `choices`."""
    def names(text: str) -> list[str]:
        found = [name.strip() for name in text.split(",")]
        for name in found:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"invalid state {name!r} (choose from {', '.join(choices)})")
        return found

    names.__name__ = "state"  # argparse names the type in some messages
    return names


def _add_queue_option(p) -> None:
    p.add_argument("--queue", type=queue_names, action="extend", metavar="Q",
                   help="only this queue (repeat, or a,b, for several)")


def _add_list(sub, prog: str) -> None:
    p = sub.add_parser("list", help="list jobs, newest first", **_example(f"{prog} list --state dead --limit 10"))
    p.add_argument("--state", type=state_names(*STATES), action="extend", metavar="S",
                   help=f"only jobs in this state: {', '.join(STATES)} (repeat, or a,b, for several)")
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
    p.add_argument("--state", required=True, type=state_names("completed", "dead"), action="extend", metavar="S",
                   help="completed or dead (repeat, or completed,dead, for both)")
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


# The values argparse reads but does not bound: a usage error (exit 2) when the command runs.
def check_timeout(timeout: float | None) -> None:
    if timeout is not None and not timeout >= 0:  # NaN compares false: it would never time out
        raise InvalidInput(f"--timeout must be a number of seconds >= 0, got {timeout:g}")


def check_limit(limit: int) -> int:
    if limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    return limit
