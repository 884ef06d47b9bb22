"""Captured output at its limits (issue 17, item 7; issue 11, item 10): when only the tail of an
attempt's output was kept, `logs`, `show` and `show --json` say how much was not; `show` prints a
bounded tail of each stream however large the output, and says how to get the rest."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import time

from tests.conftest import BIN, clean_env
from tests.helpers import configure, read_to_end


def enqueue(cli, **job) -> str:
    result = cli("enqueue", json.dumps(job))
    assert result.code == 0, result.err
    return result.out.strip()


def seq(n: int) -> bytes:
    return b"".join(b"%d\n" % i for i in range(1, n + 1))


def on_a_terminal(db: str, *args: str) -> tuple[int, bytes]:
    """Run queuectl with stdout and stderr on one pseudo-terminal; what it printed there."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, *args], stdout=follower, stderr=follower,
                                stdin=subprocess.DEVNULL, env=clean_env())
        os.close(follower)
        follower = -1
        data = read_to_end(leader)
        return proc.wait(30), data.replace(b"\r\n", b"\n")
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_truncated_output_is_marked(cli, queue, db):
    configure(queue, output_limit=100)
    job_id = enqueue(cli, command="seq 1 1000; seq 1 1000 >&2", id="cut")
    assert cli("worker", "start", "--burst").code == 0
    full = seq(1000)
    kept = full[-100:]
    dropped = len(full) - 100
    partial = kept.index(b"\n") + 1  # the tail starts inside a line: shown from the next one

    piped = subprocess.run([str(BIN / "queuectl"), "--db", db, "logs", job_id], capture_output=True,
                           env=clean_env(), stdin=subprocess.DEVNULL)
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, kept, kept)  # piped: the exact bytes, no marker

    code, screen = on_a_terminal(db, "logs", job_id)
    marker = f"... {dropped + partial:,} bytes before this were not kept\n".encode()
    assert code == 0 and screen == marker + kept[partial:] + marker + kept[partial:], screen

    shown = cli("show", job_id)
    assert shown.code == 0
    lines = kept[partial:].decode().splitlines()
    expected = "\n".join([f"  stdout (last {len(lines)} lines):", f"    {marker.decode().strip()}",
                          *(f"    {line}" for line in lines)])
    assert expected in shown.out, shown.out

    runs = cli("show", job_id, "--json").json()["runs"]
    assert (runs[0]["stdout_dropped"], runs[0]["stderr_dropped"], runs[0]["stdout"]) == (dropped, dropped, kept.decode())


def test_no_marker_when_all_was_kept(cli, queue, db):
    job_id = enqueue(cli, command="echo hi", id="small")
    assert cli("worker", "start", "--burst").code == 0
    shown = cli("show", job_id).out
    assert "  stdout (1 line):\n    hi\n" in shown and "..." not in shown  # not "(last 1 lines)"
    assert cli("show", job_id, "--json").json()["runs"][0]["stdout_dropped"] == 0
    code, screen = on_a_terminal(db, "logs", job_id)
    assert (code, screen) == (0, b"hi\n")


def test_a_long_line_is_not_cut_at_a_far_boundary(cli, queue, db):
    configure(queue, output_limit=2000)
    enqueue(cli, command="head -c 3000 /dev/zero | tr '\\0' a; echo; echo end", id="long")
    assert cli("worker", "start", "--burst").code == 0
    code, screen = on_a_terminal(db, "logs", "long")
    # the only newline in the kept tail is past its first 1 KiB: the partial line is shown
    assert screen == b"... 1,005 bytes before this were not kept\n" + b"a" * 1995 + b"\nend\n", screen[:200]


def test_show_prints_a_bounded_tail_of_a_large_output(cli, queue, db):
    configure(queue, output_limit=64 * 1024 * 1024)
    enqueue(cli, command="head -c 20000000 /dev/zero | tr '\\0' x", id="one-line")
    enqueue(cli, command="seq 1 200000", id="many-lines")
    assert cli("worker", "start", "--burst").code == 0

    started = time.monotonic()
    shown = cli("show", "one-line")
    assert shown.code == 0 and time.monotonic() - started < 10
    assert len(shown.out) < 6000, len(shown.out)  # the last 4 KiB, not 20 MB
    assert ("  stdout (last 1 line):\n    ... 19,995,904 bytes before this are not shown "
            "(queuectl logs one-line --attempt 1 prints them)\n    " + "x" * 4096 + "\n") in shown.out

    out = cli("show", "many-lines").out
    lines = re.findall(r"^    (\d+)$", out, re.M)
    assert lines == [str(i) for i in range(199961, 200001)]
    assert "  stdout (last 40 lines):\n    ... " in out and "bytes before this are not shown" in out

    piped = subprocess.run([str(BIN / "queuectl"), "--db", db, "logs", "one-line"], capture_output=True,
                           env=clean_env(), stdin=subprocess.DEVNULL)
    assert piped.returncode == 0 and len(piped.stdout) == 20_000_000 and piped.stdout.count(b"x") == 20_000_000
