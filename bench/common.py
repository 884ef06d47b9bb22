"""Shared pieces of the benchmark: the result row, timers, and how to run the project's programs."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable
QUEUECTL = str(BIN / "queuectl")
RESULTS = ROOT / "bench" / "results"
# Figures a suite measured that a later suite of the same run may use as its reference instead of
# measuring them again (the pg suite: the xargs floor, the SQLite drain, the SQLite latency).
SAME_RUN: dict[tuple, object] = {}


@dataclass
class Row:
    """One line of the table. ratio is value / reference (or its inverse for times, see `better`)."""

    name: str
    value: float | None
    unit: str
    reference: str = ""  # what the floor is, with its figure, e.g. "xargs -P4: 2100 jobs/s"
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None  # None: informational, or could not be measured
    note: str = ""  # why skipped, or a detail

    def verdict(self) -> str:
        if self.ok is None:
            return "skip" if self.value is None else "-"
        return "pass" if self.ok else "MISS"


def stop_group(proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Ask a process started with start_new_session to stop (sig to its group); SIGKILL the group
    if it is still there after grace seconds."""
    os.killpg(proc.pid, sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def proc_stats():
    """(pid, fields after the command name) of every process in /proc/PID/stat: fields[1] is the
    parent, [3] the session, [11:13] user and system ticks, [13:15] those of reaped children."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                yield name, f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


TICK = os.sysconf("SC_CLK_TCK")


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("jobs/s", "B/job"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "writes/s":
        return f"{value:.1f} {unit}"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


DROPPED = ("NO_COLOR", "QUEUECTL_DB", "PYTHONDONTWRITEBYTECODE")


def env(**extra: str) -> dict[str, str]:
    """The environment for the programs under test: no QUEUECTL_DB, no Textual variables, and
    bytecode caching on, as for an installed program (a sandbox that sets PYTHONDONTWRITEBYTECODE
    would otherwise make every start compile the project's modules from source: ~20 ms)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL_") and k not in DROPPED}
    e.update(extra)
    return e


def compile_project() -> None:
    """Write the project's bytecode caches, as `pip install` does for an installed program."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "core"), str(ROOT / "queuectl_tui")],
                   env=env(), check=False, stdout=subprocess.DEVNULL)


def wall(cmd: Sequence[str] | str, *, shell: bool = False, input: bytes | None = None, check: bool = True,
         extra_env: dict[str, str] | None = None, cwd: str | None = None) -> float:
    """Seconds of wall time one command takes, output discarded."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, shell=shell, input=input, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env(**(extra_env or {})), cwd=cwd)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def wall_and_cpu(cmd: Sequence[str] | str, *, shell: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command and every process under it that was waited for
    (os.wait4's rusage): what the work cost, whatever else the machine was doing meanwhile."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


def create_db(db: str) -> None:
    """An empty queue database, made outside the timing (`status` reads one; it makes none)."""
    wall([QUEUECTL, "--db", db, "config", "set", "max-retries", "3"])  # the default: changes nothing


def median_wall(cmd: Sequence[str] | str, n: int, **kw) -> float:
    wall(cmd, **kw)  # warm the page cache
    return statistics.median(wall(cmd, **kw) for _ in range(n))


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Scratch:
    """A temporary folder for one measurement's databases; removed afterwards."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="queuectl-bench-"))
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def seed_true_jobs(db: str, n: int, queues: int = 0, limit: int = 0) -> None:
    """n pending `true` jobs through the engine's own bulk enqueue (not timed); with queues, spread
    round-robin over queues q0, q1, ...; with limit, the `default` queue gets that limit."""
    sys.path.insert(0, str(ROOT))
    from core import Queue

    with Queue.open(db) as q:
        if queues:
            q.enqueue_many([{"command": "true", "queue": f"q{i % queues}"} for i in range(n)])
        else:
            q.enqueue_many([{"command": "true"}] * n)
        if limit:
            q.set_queue_limit("default", limit)


def count_states(db: str) -> dict[str, int]:
    from core import Queue

    with Queue.open(db) as q:
        return q.counts()
