"""Runs one job: /bin/sh -c in a new session, output to temp files, the tail kept, the group killed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Mapping

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to the process group


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    error: str | None  # None on success
    started_at: float
    finished_at: float
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.error is None


def tail(f: IO[bytes], limit: int) -> bytes:
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - limit))
    return f.read(limit) if limit else b""


def tail_fd(fd: int, limit: int) -> bytes:
    """The last `limit` bytes of the file open at fd (whatever its offset)."""
    if not limit:
        return b""
    size = os.fstat(fd).st_size
    offset = max(0, size - limit)
    chunks = []
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


# An unnamed file in the temp directory per stream and job, as tempfile.TemporaryFile makes on Linux
# (O_TMPFILE; output goes to disk, not memory), but as a bare descriptor: no Python file objects,
# no buffering layer, read back with one pread. A fresh pair per job: a background process left
# behind by one job keeps writing into that job's files only.
_TMPFILE_FLAGS = os.O_RDWR | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def temp_fd() -> int:
    """A descriptor of a new, already unlinked temp file (close-on-exec: dup2 gives it to the job)."""
    if hasattr(os, "O_TMPFILE"):
        try:
            return os.open(tempfile.gettempdir(), _TMPFILE_FLAGS | os.O_TMPFILE, 0o600)
        except (IsADirectoryError, NotADirectoryError, PermissionError, OSError):
            pass  # a file system without O_TMPFILE: a named file, unlinked at once
    fd, path = tempfile.mkstemp()
    os.unlink(path)
    return fd


def job_environ(extra: Mapping[str, str]) -> Mapping:
    """This process's environment plus the job's variables. On POSIX built from os.environ's own
    bytes mapping: copying os.environ decodes every variable and posix_spawn encodes it back (~40 us
    per job); the bytes copy is a plain dict copy, and follows changes made through os.environ."""
    data = getattr(os.environ, "_data", None)
    if os.name == "posix" and isinstance(data, dict):
        return {**data, **{os.fsencode(k): os.fsencode(v) for k, v in extra.items()}}
    return {**os.environ, **extra}


_devnull: tuple[int, int] | None = None  # (pid, fd): one read-only /dev/null per process for stdin


def devnull_fd() -> int:
    global _devnull
    if _devnull is None or _devnull[0] != os.getpid():
        _devnull = (os.getpid(), os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)))
    return _devnull[1]


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


def terminate_group(pgid: int, proc: subprocess.Popen | None = None, grace: float = KILL_GRACE) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after the grace period."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if proc is not None:
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


# os.posix_spawn (a vfork-style clone in glibc) starts a job ~25% cheaper than Popen's fork/exec
# path and its Python set-up; pidfd_open lets a timed wait sleep in select() instead of polling.
SPAWN = all(hasattr(os, name) for name in ("posix_spawn", "pidfd_open", "POSIX_SPAWN_DUP2", "waitstatus_to_exitcode"))
RESET_SIGNALS = {signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT}  # ignored here, default in the job
_sealed = False


def seal_fds() -> None:
    """Once per process: no descriptor above 2 is inherited by jobs (what Popen's close_fds did per
    job). Python's and SQLite's own descriptors are close-on-exec already; this covers the ones
    this process was started with."""
    global _sealed
    if _sealed:
        return
    _sealed = True
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


class SpawnedProcess:
    """What the runner needs of a Popen (pid, returncode, wait with a timeout), for a child started
    with os.posix_spawn. Safe to wait on from two threads (run() and a kill)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # an older kernel: poll instead
            self._pidfd = None

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): as Popen does
                    self.returncode = 0
                else:
                    if pid:
                        self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(["/bin/sh", "-c"], timeout or 0)
            try:
                if self._pidfd is None:
                    raise OSError
                select.select([self._pidfd], [], [], remaining)  # readable once the child has exited
            except (OSError, ValueError):
                time.sleep(0.005 if remaining is None else min(0.005, remaining))
        return code

    def __del__(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class RunningJob:
    """One attempt. run() blocks in the worker's thread; kill() may be called from any thread."""

    def __init__(self, command: str, timeout: float | None, output_limit: int, env: Mapping[str, str] | None = None):
        self.command = command
        self.timeout = timeout
        self.output_limit = output_limit
        self.env = env
        self._proc: subprocess.Popen | SpawnedProcess | None = None
        self._kill_reason: str | None = None
        self._lock = threading.Lock()

    def kill(self, reason: str) -> None:
        """Kill the job's process group (TERM, then KILL); run() then reports `reason` as the error."""
        with self._lock:
            if self._kill_reason is not None:
                return
            self._kill_reason = reason
            proc = self._proc
        if proc is not None and proc.returncode is None:
            threading.Thread(target=terminate_group, args=(proc.pid, proc), daemon=True).start()

    def _start(self, env: Mapping[str, str] | None, out: int, err: int):
        """/bin/sh -c COMMAND in a new session, stdin from /dev/null, output to the temp files."""
        if not SPAWN:
            return subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, start_new_session=True, close_fds=True, env=env)
        seal_fds()
        pid = os.posix_spawn(
            "/bin/sh", ["/bin/sh", "-c", self.command], os.environ if env is None else env,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull_fd(), 0),
                          (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)],
            setsid=True, setsigdef=RESET_SIGNALS, setsigmask=set(),
        )
        return SpawnedProcess(pid)

    def run(self, clock_now=time.time) -> RunResult:
        started = clock_now()
        out = err = -1
        try:
            try:
                out, err = temp_fd(), temp_fd()
                env = None if self.env is None else job_environ(self.env)
                with self._lock:
                    if self._kill_reason is not None:
                        return RunResult(None, self._kill_reason, started, clock_now(), b"", b"")
                    self._proc = self._start(env, out, err)
            except OSError as exc:
                return RunResult(None, f"could not start: {exc.strerror or exc}", started, clock_now(), b"", b"")
            proc = self._proc
            error: str | None = None
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                error = f"timed out after {self.timeout:g}s"
                terminate_group(proc.pid, proc)
                code = proc.wait()
            finished = clock_now()
            with self._lock:
                if error is None and self._kill_reason is not None:
                    error = self._kill_reason  # cancelled or shut down, whatever the shell returned
            if error is None and code != 0:
                error = describe_exit(code)
            return RunResult(
                code if code >= 0 else None,
                error,
                started,
                finished,
                tail_fd(out, self.output_limit),
                tail_fd(err, self.output_limit),
            )
        finally:
            for fd in (out, err):
                if fd >= 0:
                    os.close(fd)
