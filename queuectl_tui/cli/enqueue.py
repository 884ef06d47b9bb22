"""`enqueue`: one job from the command line, or many from stdin, one JSON object a line."""

from __future__ import annotations

import io
import os
import sys

from core.errors import Conflict, InvalidInput
from core.queue import InvalidItem, ItemConflict, ItemError
from core.text import visible
from core.validate import parse_json

from .output import EXIT_OK, out

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable, Sequence, TextIO

    from core.queue import Queue


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


def stdin_text() -> TextIO:
    """stdin as text, whatever the locale: bytes that are not text become lone surrogates, which the
    checks refuse naming the line (a strict locale's decoder raised UnicodeDecodeError instead)."""
    if isinstance(sys.stdin, io.StringIO):  # read already (dry_run keeps it for this run)
        return sys.stdin
    return io.TextIOWrapper(sys.stdin.buffer, encoding=sys.stdin.encoding or "utf-8", errors="surrogateescape")


def enqueue_stdin(q: Queue) -> int:
    lines: list[int] = []  # line number of each object, for error messages
    objects: list[Any] = []
    for number, line in enumerate(stdin_text(), 1):
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
