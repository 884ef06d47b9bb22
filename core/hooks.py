"""Completion hooks: the settings on-completed and on-dead, run once per transition by a worker (the
one that records it; for a cancelled waiting job, the first pool to take it from hooks_due), in the
background.

The job reaches a hook as data only: QUEUECTL_JOB_ID, QUEUECTL_JOB_STATE, QUEUECTL_EXIT_CODE and
QUEUECTL_QUEUE in its environment and the job's JSON (as `show --json`) on its stdin. Nothing of the
job is ever put into the hook's command text, so a command, id or output holding `$(...)`, quotes or
backquotes cannot run anything through a hook (pueue's callbacks interpolate: we do not).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time

from .runner import Tail
from .text import visible

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from .models import Settings
    from .queue import Queue

log = logging.getLogger("queuectl.hooks")

AT_ONCE = 4  # hooks of one process running at the same time; the others wait their turn, in order
SHOWN = 200  # characters of a failed hook's output put in its log line
KEPT = 65536  # bytes of a hook's output kept, from its end: its last line is all that is shown


def hook_command(settings: Settings, state: str) -> str:
    if state == "completed":
        return settings.on_completed
    return settings.on_dead if state == "dead" else ""


class Hooks:
    """Runs a queue's hooks in background threads; wait() returns once every hook fired has ended."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self._lock = threading.Lock()
        self._waiting: list[tuple[str, str, str, float]] = []
        self._threads = 0
        self._idle = threading.Condition(self._lock)

    def fire(self, settings: Settings, job_id: str, state: str) -> None:
        """Run the hook for this transition, if one is set, without waiting for it."""
        command = hook_command(settings, state)
        if not command:
            return
        with self._lock:
            self._waiting.append((command, job_id, state, settings.hook_timeout))
            if self._threads < AT_ONCE:
                self._threads += 1
                threading.Thread(target=self._drain, name="queuectl-hook", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no hook is running or waiting; True if none is."""
        with self._lock:
            return self._idle.wait_for(lambda: self._threads == 0, timeout)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._threads -= 1
                    self._idle.notify_all()
                    return
                command, job_id, state, timeout = self._waiting.pop(0)
            try:
                self._run(command, job_id, state, timeout)
            except Exception as exc:  # a hook never harms the worker: one line, and go on
                log.warning("hook on-%s for job %s failed: %s", state, visible(job_id), exc)

    def _run(self, command: str, job_id: str, state: str, timeout: float) -> None:
        job = self.queue.job(job_id)
        env = {**os.environ, "QUEUECTL_JOB_ID": job.id, "QUEUECTL_JOB_STATE": state,
               "QUEUECTL_EXIT_CODE": "" if job.exit_code is None else str(job.exit_code),
               "QUEUECTL_QUEUE": job.queue}
        data = (json.dumps(job.to_dict(with_runs=True), ensure_ascii=False) + "\n").encode()
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True, close_fds=True)
        killed, tail = _wait_keeping_tail(proc, data, timeout)
        if killed:
            log.warning("hook on-%s for job %s: killed after %gs", state, visible(job_id), timeout)
            return
        if proc.returncode != 0:
            out = tail.value().decode(errors="replace").strip()
            last = visible(out.splitlines()[-1][-SHOWN:]) if out else ""
            log.warning("hook on-%s for job %s exited %d%s", state, visible(job_id), proc.returncode,
                        f": {last}" if last else "")


def _wait_keeping_tail(proc: subprocess.Popen, data: bytes, timeout: float) -> tuple[bool, Tail]:
    """Give the hook its stdin and wait for it, up to timeout; whether it was killed, and its output.
    Only the output's last KEPT bytes are kept (its last line is all that is shown), so a hook that
    prints gigabytes (curl -v, a cat of the wrong file) costs the worker 64 KiB."""
    tail = Tail(KEPT)
    feeder = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
    reader = threading.Thread(target=_drain_into, args=(proc.stdout, tail), daemon=True)
    feeder.start()
    reader.start()
    deadline, killed = time.monotonic() + timeout, False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)  # not reaped yet, so the group id is still the hook's
        proc.wait()
        killed = True
    for thread in (reader, feeder):
        thread.join(max(0.0, deadline - time.monotonic()))
    if reader.is_alive() or feeder.is_alive():  # a process the hook left holds its pipes: it goes too
        _kill_group(proc.pid)  # a group with a live member keeps its id
        killed = True
        reader.join()
        feeder.join()
    proc.stdout.close()
    return killed, tail


def _feed(pipe, data: bytes) -> None:
    """The job's JSON on the hook's stdin; a hook that does not read it is fine."""
    try:
        pipe.write(data)
    except OSError:  # BrokenPipeError among them
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _drain_into(pipe, tail: Tail) -> None:
    while chunk := pipe.read1(65536):
        tail.add(chunk)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
