"""What the commands print, and the exit codes they return."""

from __future__ import annotations

import os
import sys

from core.clock import to_iso
from core.models import STATES
from core.text import output_tail, visible

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Sequence

    from core.models import Job

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
    def cell(text: str) -> str:  # as the database holds it: enqueue's checks need not have passed
        return visible(text, keep_newlines=False)

    return [[cell(j.id), cell(j.state), cell(j.queue), f"{j.attempts}/{j.max_retries + 1}", str(j.priority),
             short_time(j.updated_at), cell(j.command)] for j in jobs]


def print_jobs(jobs: Sequence[Job], as_json: bool) -> None:
    if as_json:
        print_json([j.to_dict() for j in jobs])
    elif not jobs:
        print("no jobs", file=sys.stderr)
    else:
        table(["ID", "STATE", "QUEUE", "TRIES", "PRI", "UPDATED (UTC)", "COMMAND"], job_rows(jobs))


def print_queues(queues: Sequence[Any]) -> None:
    table(["QUEUE", *(s.upper() for s in STATES), "LIMIT", "PAUSED"],
          [[visible(i.name), *(str(i.counts[s]) for s in STATES), str(i.limit or "-"), "yes" if i.paused else "no"]
           for i in queues])


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


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
