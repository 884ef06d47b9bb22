"""Runs one job: /bin/sh -c in a new session, output read from pipes, the tail kept, the group killed.

Output goes through a pipe per stream, read by the job's worker thread as it comes: a temp file per
stream and job cost an inode allocation on every start (bench/README.md, item 14)."""

from __future__ import annotations

import collections
import math
import os
import select
import signal
import subprocess
import threading
import time

from .leftover import discard_later
from .record import record
from .spawn import RESET_SIGNALS, SPAWN, SpawnedProcess, devnull_fd, seal_fds
from .text import text_env

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Callable, Mapping

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to the process group


@record
class RunResult:
    exit_code: int | None
    error: str | None  # None on success
    started_at: float
    finished_at: float
    stdout: bytes
    stderr: bytes
    stdout_dropped: int = 0  # bytes written before the kept tail (output_limit), not kept
    stderr_dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


class Tail:
    """The last `limit` bytes of a stream, kept as it is read: the chunks read, the oldest dropped
    once the others hold `limit` bytes, so a job that prints gigabytes costs the worker at most
    `limit` plus one read (64 KiB) per stream while it runs. (A bytearray cut back now and then
    held twice the limit, and copied it twice at the end.)"""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.read = 0  # bytes read in all
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0  # bytes in _chunks

    def add(self, data: bytes) -> None:
        self.read += len(data)
        if not self.limit:
            return
        self._chunks.append(data)
        self._size += len(data)
        while self._size - len(self._chunks[0]) >= self.limit:
            self._size -= len(self._chunks.popleft())

    @property
    def dropped(self) -> int:
        """Bytes read but not kept: what came before the last `limit`."""
        return self.read - min(self.read, self.limit)

    def snapshot(self) -> bytes:
        """The kept tail, leaving the chunks as they are (the job goes on writing to them)."""
        data = b"".join(self._chunks)
        return data[len(data) - self.limit:] if len(data) > self.limit else data

    def value(self) -> bytes:
        excess = self._size - self.limit
        if excess > 0:  # cut the oldest chunk only: one copy of the tail in all
            self._chunks[0] = self._chunks[0][excess:]
            self._size -= excess
        return b"".join(self._chunks)


def job_environ(extra: Mapping[str, str]) -> Mapping:
    """This process's environment plus the job's variables. On POSIX built from os.environ's own
    bytes mapping: copying os.environ decodes every variable and posix_spawn encodes it back (~40 us
    per job); the bytes copy is a plain dict copy, and follows changes made through os.environ."""
    data = getattr(os.environ, "_data", None)
    if os.name == "posix" and isinstance(data, dict):
        return {**data, **{os.fsencode(k): os.fsencode(v) for k, v in extra.items()}}
    return {**os.environ, **extra}


def describe_exit(code: int) -> str:
    if code == 127:
        return "exit code 127 (command not found)"
    if code == 126:
        return "exit code 126 (command not executable)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def terminate_group(pgid: int, proc: "subprocess.Popen | SpawnedProcess | None" = None,
                    grace: float = KILL_GRACE) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after the grace period (or as
    soon as the job's shell has exited). Never reaps a SpawnedProcess: its own wait() does."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if isinstance(proc, SpawnedProcess):
        proc.ended(grace)
    elif proc is not None:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    else:
        time.sleep(grace)
    try:
        os.killpg(pgid, signal.SIGKILL)  # grandchildren that ignored TERM, or outlived the shell
    except ProcessLookupError:
        pass


class NotStarted(Exception):
    """Why a job's process could not be started: its attempt's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunningJob:
    """One attempt. run() blocks in the worker's thread; kill() may be called from any thread."""

    def __init__(self, command: str, timeout: float | None, output_limit: int, env: Mapping[str, str] | None = None,
                 cwd: str | None = None):
        self.command = command
        self.timeout = timeout
        self.output_limit = output_limit
        self.env = env
        self.cwd = cwd
        self._proc: subprocess.Popen | SpawnedProcess | None = None
        self._kill_reason: str | None = None
        self._lock = threading.Lock()  # also guards the tails, which live_output() reads from another thread
        self._tails: tuple[Tail, Tail] | None = None  # stdout's and stderr's, while the job runs
        self.began: float | None = None  # time.monotonic() at the start
        self.live: tuple[float, int, int] | None = None  # the last push: (when, bytes in each stream); core/live.py

    def kill(self, reason: str) -> None:
        """Kill the job's process group (TERM, then KILL); run() then reports `reason` as the error."""
        with self._lock:
            if self._kill_reason is not None:
                return
            self._kill_reason = reason
            proc = self._proc
        if proc is not None and proc.returncode is None:
            threading.Thread(target=terminate_group, args=(proc.pid, proc), daemon=True).start()

    def _stop_escaped(self) -> None:
        """A killed job's shell has exited: stop what of this attempt left its process group (setsid,
        a daemon), before the result is recorded and a retry may start beside it."""
        env = self.env if isinstance(self.env, dict) else {}
        marks = [env.get(name) for name in ("QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_WORKER")]
        if all(isinstance(mark, str) for mark in marks) and marks[1].isdigit():
            from .orphans import stop_job_processes  # reads /proc: only for a job killed

            stop_job_processes(marks[0], int(marks[1]), marks[2])

    def live_output(self) -> tuple[int, int, bytes, bytes] | None:
        """(bytes written to stdout and stderr in all, their kept tails), or None if the job wrote
        nothing since the last push (self.live). Called by the pool's live-output thread."""
        with self._lock:  # once run() has cleared the tails under it, value() may cut them: not read
            if self._tails is None:
                return None
            out, err = self._tails
            if self.live is not None and (out.read, err.read) == self.live[1:]:
                return None
            return out.read, err.read, out.snapshot(), err.snapshot()

    def _start(self, env: Mapping[str, str] | None, out: int, err: int):
        """/bin/sh -c COMMAND in a new session, stdin from /dev/null, output to the pipes. A job with
        its own directory goes through Popen: os.posix_spawn has no chdir in Python 3.11."""
        if not SPAWN or self.cwd is not None:
            return subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, start_new_session=True, close_fds=True, env=env, cwd=self.cwd)
        seal_fds()
        pid = os.posix_spawn(
            "/bin/sh", ["/bin/sh", "-c", self.command], os.environ if env is None else env,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull_fd(), 0),
                          (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)],
            setsid=True, setsigdef=RESET_SIGNALS, setsigmask=set(),
        )
        return SpawnedProcess(pid)

    def run(self, clock_now=time.time, on_slow: tuple[float, Callable[[], None]] | None = None) -> RunResult:
        """Start the job and wait for its end. on_slow=(seconds, fn): fn() is called once, in this
        thread, if the job is still running after that many seconds."""
        started = clock_now()
        unfit = self._unfit()
        if unfit is not None:
            return RunResult(None, f"could not start: {unfit}", started, clock_now(), b"", b"")
        if self.cwd is not None and not os.path.isdir(self.cwd):
            return RunResult(None, cwd_problem(self.cwd), started, clock_now(), b"", b"")
        fds: list[int] = []  # to close at the end (less the pipes handed to discard_later)
        try:
            try:
                out_r, err_r = self._start_piped(fds)
            except NotStarted as exc:
                return RunResult(None, exc.reason, started, clock_now(), b"", b"")
            out, err = Tail(self.output_limit), Tail(self.output_limit)
            self._tails, self.began = (out, err), time.monotonic()
            streams = {out_r: out, err_r: err}  # the pipes still open
            code = self._wait(streams, fds, on_slow)
            finished = clock_now()
            if self._kill_reason is not None:
                self._stop_escaped()
            if streams:  # a process the job left behind still holds them
                discard_later(list(streams))
                fds = [fd for fd in fds if fd not in streams]
            error = self._ended(code)
            return RunResult(code if code >= 0 else None, error, started, finished, out.value(), err.value(),
                             out.dropped, err.dropped)
        finally:
            for fd in fds:
                os.close(fd)

    def _unfit(self) -> str | None:
        """What makes the job impossible to start, as the database holds it: enqueue refuses such
        values, but whoever may write the database need not go through it. None if nothing."""
        if self.timeout is not None and not 0 < self.timeout < math.inf:
            return f"timeout {self.timeout!r} is not a positive number"
        if self.env is not None and text_env(self.env) is None:
            return "env is not an object of text values"
        return None

    def _start_piped(self, fds: list[int]) -> tuple[int, int]:
        """Start the job with a pipe for each stream; the pipes' read ends. Each descriptor opened
        goes into fds, for run() to close; NotStarted says why the job could not start."""
        try:
            out_r, out_w = os.pipe()  # not inheritable: posix_spawn's dup2 gives the job its copies
            fds += (out_r, out_w)
            err_r, err_w = os.pipe()
            fds += (err_r, err_w)
            env = None if self.env is None else job_environ(self.env)
            with self._lock:
                if self._kill_reason is not None:
                    raise NotStarted(self._kill_reason)
                self._proc = self._start(env, out_w, err_w)
        except OSError as exc:
            error = f"could not start: {exc.strerror or exc}"
            if self.cwd is not None and (exc.filename == self.cwd or not os.path.isdir(self.cwd)):
                error = cwd_problem(self.cwd) if not os.path.isdir(self.cwd) else \
                    f"cwd {self.cwd}: {(exc.strerror or str(exc)).lower()}"
            raise NotStarted(error) from None
        except (ValueError, TypeError) as exc:  # a NUL, an env name with "=": as the database holds it
            raise NotStarted(f"could not start: {exc}") from None
        for fd in (out_w, err_w):  # only the job holds the write ends now: end of file once it is done
            os.close(fd)
            fds.remove(fd)
        return out_r, err_r

    def _wait(self, streams: dict[int, Tail], fds: list[int],
              on_slow: tuple[float, Callable[[], None]] | None) -> int:
        """Follow the output until the job's shell has exited; its exit code."""
        proc = self._proc
        try:
            pidfd = os.pidfd_open(proc.pid) if SPAWN else None  # readable once the shell has exited
        except OSError:
            pidfd = None
        if pidfd is not None:
            fds.append(pidfd)
        self._follow(proc, streams, pidfd, on_slow)
        return proc.wait()

    def _ended(self, code: int) -> str | None:
        """The attempt's error, once the job has ended; its tails are no longer live_output()'s."""
        with self._lock:
            error = self._kill_reason  # cancelled, shut down or timed out, whatever the shell returned
        if error is None and code != 0:
            error = describe_exit(code)
        with self._lock:
            self._tails = None
        return error

    def _follow(self, proc, streams: dict[int, Tail], pidfd: int | None,
                on_slow: tuple[float, Callable[[], None]] | None) -> None:
        """Read the job's output as it comes until its shell has exited, then what it wrote before
        that; on timeout, kill it (and go on reading until it has gone); call on_slow when due."""
        now = time.monotonic()
        deadline = None if self.timeout is None else now + self.timeout
        slow_at = None if on_slow is None else now + on_slow[0]
        while True:
            now = time.monotonic()
            if slow_at is not None and now >= slow_at:
                slow_at = None
                on_slow[1]()  # type: ignore[index]
                now = time.monotonic()
            remaining = None if deadline is None else deadline - now
            if remaining is not None and remaining <= 0:
                self.kill(f"timed out after {self.timeout:g}s")
                deadline = remaining = None
            if slow_at is not None:  # wake up for on_slow too
                remaining = slow_at - now if remaining is None else min(remaining, slow_at - now)
            if not streams:  # both closed early (or never written): only the exit is left to wait for
                try:
                    proc.wait(remaining)
                    return
                except subprocess.TimeoutExpired:
                    continue
            if self._read_ready(proc, streams, pidfd, remaining):
                self._read_rest(streams)
                return

    def _read_ready(self, proc, streams: dict[int, Tail], pidfd: int | None, timeout: float | None) -> bool:
        """Read what the pipes hold, waiting at most timeout for something to come; whether the
        job's shell has exited."""
        if pidfd is None:  # no pidfd: look every 5 ms
            ready = select.select(list(streams), [], [], 0.005 if timeout is None else min(0.005, timeout))[0]
            exited = _exited(proc)
        else:
            ready = select.select([*streams, pidfd], [], [], timeout)[0]
            exited = pidfd in ready
        for fd in ready:
            if fd != pidfd:
                self._read(streams, fd)
        return exited

    def _read_rest(self, streams: dict[int, Tail]) -> None:
        """What is left in the pipes once the shell has exited, in a few reads at most: a process
        left behind may write on."""
        for _ in range(16):
            ready = select.select(list(streams), [], [], 0)[0] if streams else []
            if not ready:
                return
            for fd in ready:
                self._read(streams, fd)

    def _read(self, streams: dict[int, Tail], fd: int) -> None:
        data = os.read(fd, 65536)
        if data:
            with self._lock:  # live_output() may be copying the tail
                streams[fd].add(data)
        else:
            del streams[fd]  # end of file


def cwd_problem(cwd: str) -> str:
    """Why a job cannot start in its directory, as its attempt's error (retried by the usual rule)."""
    if os.path.exists(cwd):
        return f"cwd {cwd}: not a directory"
    return f"cwd {cwd}: no such directory"


def _exited(proc) -> bool:
    return proc.ended(0) if isinstance(proc, SpawnedProcess) else proc.poll() is not None
