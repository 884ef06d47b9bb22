"""The real app in a pseudo-terminal, stopped by a signal as a process manager or a closed terminal
stops it: no job is left in processing or running unwatched, and the terminal is given back."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading

import pytest

from core import Queue
from tests.conftest import BIN, clean_env
from tests.helpers import kill_quietly, lines, pid_alive, read_to_end, wait_until


def start_app(db: str) -> tuple[subprocess.Popen, int, list[bytes]]:
    """queuectl-tui with one worker on an 80x24 pseudo-terminal; what it draws is read as it comes
    (a full terminal would block it)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    app = subprocess.Popen([str(BIN / "queuectl-tui"), "--db", db, "--workers", "1"], stdin=follower,
                           stdout=follower, stderr=follower, env=clean_env(TERM="xterm-256color"),
                           start_new_session=True)
    os.close(follower)
    drawn: list[bytes] = []
    threading.Thread(target=lambda: drawn.append(read_to_end(leader)), daemon=True).start()
    return app, leader, drawn


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])  # SIGINT: `kill -INT`, as for worker start
def test_sigterm_is_a_quit_running_jobs_finish_and_the_terminal_is_given_back(tmp_path, sig):
    db, marker = str(tmp_path / "q.db"), tmp_path / "marker"
    with Queue.open(db) as q:
        q.enqueue(f"echo started >> {marker}; sleep 1.5; echo finished >> {marker}", id="job", max_retries=0)
    app, leader, drawn = start_app(db)
    try:
        wait_until(lambda: lines(marker) == ["started"], timeout=30, what="the job to start")
        app.send_signal(sig)
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
    wait_until(lambda: bool(drawn), timeout=10, what="the terminal to close")
    os.close(leader)
    assert lines(marker) == ["started", "finished"]
    with Queue.open(db) as q:
        job = q.job("job")
        assert (job.state, job.attempts) == ("completed", 1) and q.workers() == []
    assert b"\x1b[?1049l" in drawn[0]  # the alternate screen left: the shell's screen is back


def test_sighup_with_the_terminal_gone_kills_and_records_the_running_jobs(tmp_path):
    db, pids = str(tmp_path / "q.db"), tmp_path / "pids"
    with Queue.open(db) as q:
        q.enqueue(f"echo $$ >> {pids}; sleep 60", id="job", max_retries=1)
    app, leader, drawn = start_app(db)
    shell = None
    try:
        wait_until(lambda: len(lines(pids)) == 1, timeout=30, what="the job to start")
        shell = int(lines(pids)[0])
        os.close(leader)  # the terminal goes away, then its SIGHUP
        app.send_signal(signal.SIGHUP)
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
        if shell is not None and pid_alive(shell):  # the job's own session: its group goes with it
            kill_quietly(-shell)
    assert shell is not None and not pid_alive(shell)
    with Queue.open(db) as q:
        job = q.job("job")
        assert (job.state, job.attempts, job.last_error) == ("failed", 1, "killed: worker shut down")
        assert q.workers() == []
