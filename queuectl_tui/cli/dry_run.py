"""Bad input aimed at a database that does not exist yet makes no database (a mistyped --db path and
a typo in the JSON would otherwise leave an empty queue there, which later commands then accept).

The command first runs against EmptyDatabase, which answers the reads an empty database would and
stops at anything else (the first write, or a use of the database itself): the input is judged by the
very code that will run it, with nothing copied. Only if that run gets that far is the file made."""

from __future__ import annotations

import io
import sys

from core.errors import QueueError
from core.queue import Queue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable


class WouldWrite(Exception):
    """The command got past its checks: now it needs the real database."""


class EmptyDatabase:
    """A store with nothing in it: no settings, no jobs. Anything but these reads raises WouldWrite."""

    def read_settings(self) -> dict[str, str]:
        return {}

    def existing_ids(self, ids: Any) -> set[str]:
        return set()

    def __getattr__(self, name: str) -> Any:
        raise WouldWrite(name)


def check_first(command: Callable[[Queue, argparse.Namespace], int], args: argparse.Namespace) -> None:
    """Run `command` against an empty stand-in: its InvalidInput (or other QueueError) goes up, and
    nothing is made. A command prints only once it has written, so nothing is printed twice; stdin,
    read by `enqueue -`, is kept for the real run."""
    if args.command == "enqueue" and args.job == "-":
        from .enqueue import stdin_text

        sys.stdin = io.StringIO(stdin_text().read())
    try:
        command(Queue(EmptyDatabase()), args)  # type: ignore[arg-type]  # a stand-in, see above
    except QueueError:  # bad input (or a conflict an empty database would have too): said, nothing made
        raise
    except Exception:  # WouldWrite, or a question the stand-in cannot answer: the real run decides
        pass
    finally:
        if isinstance(sys.stdin, io.StringIO):
            sys.stdin.seek(0)
