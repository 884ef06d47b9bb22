"""Runs one job: /bin/sh -c in a new session, output to temp files, the tail kept, the group killed."""

from __future__ import annotations

import os
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


class RunningJob:
    """One attempt. run() blocks in the worker's thread; kill() may be called from any thread."""

    def __init__(self, command: str, timeout: float | None, output_limit: int, env: Mapping[str, str] | None = None):
        self.command = command
        self.timeout = timeout
        self.output_limit = output_limit
        self.env = env
        self._proc: subprocess.Popen | None = None
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

    def run(self, clock_now=time.time) -> RunResult:
        started = clock_now()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                env = None if self.env is None else {**os.environ, **self.env}
                with self._lock:
                    if self._kill_reason is not None:
                        return RunResult(None, self._kill_reason, started, clock_now(), b"", b"")
                    self._proc = subprocess.Popen(
                        ["/bin/sh", "-c", self.command],
                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                        start_new_session=True, close_fds=True, env=env,
                    )
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
                tail(out, self.output_limit),
                tail(err, self.output_limit),
            )
