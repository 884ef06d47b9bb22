"""The headless CLI (`queuectl`, `queuectl-tui --headless`) and its entry points. A command's module
is imported only when that command runs, and Textual only to open the app: `status` loads neither
the worker's code nor the metrics'."""

from __future__ import annotations

import os
import sys

from core.errors import InvalidInput, QueueError
from core.queue import Queue
from core.text import visible

from .output import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .parser import UsageError, build_parser, command_word

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse
    from typing import Callable, Sequence

# Each command's function, as "module:function" in this package.
COMMANDS = {
    "enqueue": "enqueue:cmd_enqueue", "list": "jobs:cmd_list", "show": "jobs:cmd_show", "logs": "jobs:cmd_logs",
    "status": "jobs:cmd_status", "wait": "jobs:cmd_wait", "cancel": "jobs:cmd_cancel", "worker": "workers:cmd_worker",
    "dlq": "admin:cmd_dlq", "config": "admin:cmd_config", "prune": "admin:cmd_prune", "queue": "admin:cmd_queue",
    "metrics": "admin:cmd_metrics", "schedule": "admin:cmd_schedule",
}

# The commands that create a missing database (a SQLite file, in an existing folder unless it is the
# default location): the others need it to exist, so a mistyped --db makes nothing.
CREATING = {("enqueue", None), ("worker", "start"), ("config", "set"), ("queue", "limit"), ("queue", "pause"),
            ("queue", "resume"), ("schedule", "add")}


def command(word: str) -> Callable[[Queue, argparse.Namespace], int]:
    """The function of a command, its module imported now (with __import__: importlib itself is not
    loaded at start-up)."""
    module, name = COMMANDS[word].split(":")
    return getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)


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
        create = (args.command, getattr(args, "action", None)) in CREATING
        if create and database_missing(args.db):
            from .dry_run import check_first

            check_first(command(args.command), args)
        with Queue.open(args.db, create=create) as q:
            return command(args.command)(q, args)
    except UsageError as exc:
        message, see, help_hint = str(exc).rpartition(" (see: ")
        return fail(f"{message}{dash_value_hint(argv, message)}{see}{help_hint}", EXIT_USAGE, location)
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


def database_missing(db: str | None) -> bool:
    """Whether the SQLite file a creating command would make does not exist yet."""
    from core.opening import POSTGRES_SCHEMES, default_location

    location = db or default_location()
    return not location.startswith(POSTGRES_SCHEMES) and not os.path.lexists(location)


def dash_value_hint(argv: Sequence[str], message: str) -> str:
    """argparse takes a value such as -1d or -5m for an option, then says a value is missing: say
    how to pass it, so that the user then reads what is wrong with the value itself."""
    if "expected one argument" not in message and "arguments are required" not in message:
        return ""
    value = next((arg for arg in argv if len(arg) > 1 and arg[0] == "-" and arg[1].isdigit()), None)
    if value is None:
        return ""
    option = message.split(":")[0].removeprefix("argument ").split("/")[-1]
    return f"; for the value {value}, write {option}={value}" if option.startswith("--") else \
        f"; for the value {value}, write -- before it"


def fail(message: str, code: int, location: str | None = None) -> int:
    """The one error line. The engine's messages never hold a password; scrub() makes sure of it."""
    from core.location import scrub  # only on errors: plain commands do not pay for it

    print(f"error: {visible(scrub(message, location), keep_newlines=False)}", file=sys.stderr)
    return code


def open_app(db: str | None, workers: int | None) -> int:
    if workers is not None and workers < 0:
        return fail(f"--workers must be >= 0, got {workers}", EXIT_USAGE)
    from ..app import run_app  # the only import of Textual

    return run_app(db, workers)


def main_queuectl() -> None:
    sys.exit(run(sys.argv[1:], "queuectl", tui=False))


def main_tui() -> None:
    sys.exit(run(sys.argv[1:], "queuectl-tui", tui=True))
