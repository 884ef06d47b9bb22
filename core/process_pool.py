"""A pool of worker processes: N OS processes, each a Pool of one, and their entry point
`python -m core.process_pool` (the old name `python -m core.worker` still works)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from .pool import Pool
from .queue import Queue
from .runner import describe_exit
from .signal_relay import SignalRelay
from .worker_log import configure_logging, print_job_end

log = logging.getLogger("queuectl.worker")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # what stops `worker start`: Ctrl-C, kill, a closed terminal
# The parent's "kill your running job" to a child: a signal of its own, since a second SIGTERM sent
# right after the first is one signal to the child (pending signals, and Python's handlers, coalesce).
KILL_SIGNAL = signal.SIGUSR1


class ProcessPool:
    """N workers as N OS processes, each a Pool of one: jobs start in parallel instead of taking
    turns on one interpreter lock. Same start/stop/kill/join as Pool.

    Children are forked when this process runs no other thread (the CLI: instant, nothing to
    import again), else started as new Python processes. They ignore SIGINT and SIGHUP (a
    terminal's reach the whole process group; the parent decides), take SIGTERM, from anyone, as
    "finish the running job", and only KILL_SIGNAL, the parent's, as "kill it". A child whose
    parent is gone stops as if told to."""

    def __init__(self, location: str, size: int, burst: bool = False, queues: list[str] | None = None) -> None:
        self.location = location
        self.size = size
        self.burst = burst
        self.queues = queues
        self.children: list = []  # multiprocessing.Process or subprocess.Popen
        self.errors: list[str] = []
        self._signals = 0

    def start(self) -> "ProcessPool":
        # The stop signals wait until every child exists: the parent's handler then reaches them all,
        # and a child never runs the parent's handler (it unblocks them once its own are set).
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {KILL_SIGNAL})
        try:
            if self._signals == 0:  # stopped before it started: start nothing
                self._start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self

    def _start(self) -> None:
        if threading.active_count() == 1 and hasattr(os, "fork"):
            import multiprocessing

            context = multiprocessing.get_context("fork")
            parent = os.getpid()
            self.children = [context.Process(target=_child, args=(self.location, self.burst, parent, self.queues),
                                             name=f"queuectl-worker-{i + 1}") for i in range(self.size)]
            for child in self.children:
                child.start()
        else:
            import subprocess

            # The location goes on the child's stdin, not in its environment, which its jobs inherit:
            # a PostgreSQL URL may hold a password. -P and an explicit path: the child imports this
            # very package, never a `core` of the current directory (`-m` would put it first).
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            args = [sys.executable, "-P", "-c", CHILD_MAIN, root, "--location-on-stdin"]
            args += ["--burst"] if self.burst else []
            args += ["--queues", ",".join(self.queues)] if self.queues else []
            self.children = []
            for _ in range(self.size):
                child = subprocess.Popen(args, stdin=subprocess.PIPE)
                child.stdin.write(self.location.encode() + b"\n")
                child.stdin.close()
                self.children.append(child)

    def _signal_children(self, signum: int) -> None:
        for child in self.children:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Graceful: every child finishes its running job and exits."""
        if self._signals == 0:
            self._signals = 1
            self._signal_children(signal.SIGTERM)

    def kill(self) -> None:
        """Kill running jobs (each recorded as a failed attempt), then exit."""
        self.stop()
        if self._signals == 1:
            self._signals = 2
            self._signal_children(KILL_SIGNAL)

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for child in self.children:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if hasattr(child, "join"):
                child.join(remaining)
                if child.exitcode is None:
                    return False
            else:
                try:
                    child.wait(remaining)
                except Exception:  # subprocess.TimeoutExpired
                    return False
        codes = [getattr(c, "exitcode", None) if hasattr(c, "join") else c.returncode for c in self.children]
        self.errors = [f"worker process {c.pid} ended with {describe_exit(code)}"
                       for c, code in zip(self.children, codes) if code]
        return True


def _child(location: str, burst: bool, parent: int, queues: list[str] | None = None) -> None:
    """One worker process of a ProcessPool: a Pool of one. Exits with 1 if a worker failed."""
    with Queue.open(location) as queue:  # its own connections: nothing of the parent's is used
        pool = Pool(queue, 1, burst=burst, on_job_end=print_job_end, queues=queues)
        # Only the parent's KILL_SIGNAL kills: a stop signal sent to the whole process group (a
        # terminal's, systemd's, `kill -- -PGID`) reaches a child twice, from its sender and passed
        # on by the parent, and must not count as a second. SIGINT and SIGHUP: the parent decides.
        def on_signal(signum: int) -> None:
            if signum == KILL_SIGNAL:
                pool.kill()
            elif signum == signal.SIGTERM:
                pool.stop()

        SignalRelay(STOP_SIGNALS | {KILL_SIGNAL}, on_signal).start()  # replaces a forked parent's pipe
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS | {KILL_SIGNAL})  # blocked by the parent
        pool.start()
        while not pool.join(timeout=0.5):
            if os.getppid() != parent and not pool.stopping:
                log.warning("worker process %d: parent gone, stopping", os.getpid())
                pool.stop()
    sys.exit(1 if pool.errors else 0)


CHILD_MAIN = "import sys; sys.path.insert(0, sys.argv.pop(1)); from core.process_pool import main; main()"


def main(argv: list[str] | None = None) -> None:
    """`python -m core.process_pool [--burst] [--location-on-stdin] [--queues a,b]`: one worker process on
    $QUEUECTL_DB, or on the location read from the first line of stdin."""
    argv = sys.argv[1:] if argv is None else argv
    configure_logging()
    if "--location-on-stdin" in argv:
        location = sys.stdin.readline().rstrip("\n")
    else:
        location = os.environ["QUEUECTL_DB"]
    queues = argv[argv.index("--queues") + 1].split(",") if "--queues" in argv else None
    _child(location, "--burst" in argv, os.getppid(), queues)


if __name__ == "__main__":
    main()
