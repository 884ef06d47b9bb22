"""Plain data: job states, jobs, runs (attempts), workers and the settings with their rules.

The records are immutable named tuples (core/record.py; use `_replace` to derive one), not dataclasses: importing
`dataclasses` (and `inspect` under it) and generating their methods cost ~20 ms on every start of
`queuectl`, a third of its time budget.
"""

from __future__ import annotations

import enum
import math

from .clock import parse_duration, to_iso
from .errors import InvalidInput
from .record import record
from .text import brief, is_utf8

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any


class JobState(str, enum.Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"

    def __str__(self) -> str:
        return self.value


STATES = tuple(s.value for s in JobState)
FINISHED = (JobState.COMPLETED.value, JobState.DEAD.value)
PRUNED = "pruned"  # what `wait` says of a job pruned before it saw how it ended (not a state of a job)
# Patterns, not compiled ones: re compiles (and caches) them at first use, which a command that
# checks no id does not pay for at start-up.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
QUEUE_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
DEFAULT_QUEUE = "default"


@record
class Run:
    """One attempt of a job, with the tail of its output."""

    job_id: str
    number: int  # 1-based position in the job's whole history (continues after a DLQ retry)
    attempt: int  # the job's attempt counter when it ran (restarts at 1 after a DLQ retry)
    worker: str | None
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    error: str | None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_dropped: int = 0  # bytes written before `stdout` that were not kept (output-limit)
    stderr_dropped: int = 0
    stdout_unread: int = 0  # bytes kept before `stdout` but not read (Queue.job(..., tail=N))
    stderr_unread: int = 0
    running: bool = False  # the attempt still runs: its output so far (Queue.job(..., live=True))

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "attempt": self.attempt,
            "worker": self.worker,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "duration": None if self.duration is None else round(self.duration, 3),
            "exit_code": self.exit_code,
            "error": self.error,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "stdout_dropped": self.stdout_dropped,
            "stderr_dropped": self.stderr_dropped,
        }


@record
class Job:
    id: str
    command: str
    state: str
    attempts: int
    max_retries: int
    priority: int
    run_at: float
    timeout: float | None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    last_error: str | None = None
    worker: str | None = None
    lease_until: float | None = None
    queue: str = "default"
    cwd: str | None = None  # absolute; None: the worker's own directory
    env: dict[str, str] | None = None  # added to the worker's environment
    schedule: str | None = None  # the schedule that made it
    unique_key: str | None = None
    after_ids: str | None = None  # the ids in `after`, space-separated (ids hold no spaces)
    waiting: int = 0  # of them, how many are not completed yet
    runs: tuple[Run, ...] = ()
    waiting_on: tuple[str, ...] = ()  # those ids (filled in by Queue.job and Queue.jobs)
    needed_by: tuple[str, ...] = ()  # the jobs whose `after` names this one (filled in by Queue.job)

    @property
    def after(self) -> list[str]:
        return self.after_ids.split() if self.after_ids else []

    def to_dict(self, with_runs: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "command": self.command,
            "state": self.state,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "priority": self.priority,
            "run_at": to_iso(self.run_at),
            "timeout": self.timeout,
            "created_at": to_iso(self.created_at),
            "updated_at": to_iso(self.updated_at),
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "exit_code": self.exit_code,
            "last_error": self.last_error,
            "worker": self.worker,
            "queue": self.queue,
            "cwd": self.cwd,
            "env": dict(self.env) if isinstance(self.env, dict) else self.env or {},  # else as the database has it
            "after": self.after,
            "waiting_on": list(self.waiting_on),
            "unique_key": self.unique_key,
            "schedule": self.schedule,
        }
        if with_runs:
            out["runs"] = [r.to_dict() for r in self.runs]
        return out


@record
class LiveView:
    """A job's state and its running attempt's output so far (core/live.py), as one read saw them.
    A stream's bytes are None when no more was written than the reader said it had; totals count
    every byte the attempt wrote to the stream (0 when its worker has pushed nothing yet)."""

    state: str
    attempts: int
    worker: str | None
    started_at: float | None
    stdout_total: int = 0
    stderr_total: int = 0
    stdout: bytes | None = None  # the last output-limit bytes at most
    stderr: bytes | None = None


@record
class WorkerInfo:
    id: str
    host: str
    pid: int
    job_id: str | None
    started_at: float
    heartbeat_at: float
    stop_requested: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "job": self.job_id,
            "started_at": to_iso(self.started_at),
            "heartbeat_at": to_iso(self.heartbeat_at),
        }


@record
class JobSpec:
    """A validated job to insert; times are absolute epoch seconds."""

    command: str
    id: str | None
    max_retries: int
    priority: int
    run_at: float
    timeout: float | None
    queue: str = "default"
    cwd: str | None = None
    env: dict[str, str] | None = None
    unique_key: str | None = None
    after: tuple[str, ...] = ()


@record
class QueueInfo:
    """A queue: its jobs per state (every state present), its limit (0: none) and whether it is paused."""

    name: str
    counts: dict[str, int]
    limit: int = 0
    paused: bool = False

    @property
    def running(self) -> int:
        return self.counts.get("processing", 0)

    @property
    def held(self) -> str:
        """Why its due jobs are not taken: "paused", "full" (its limit of jobs is running) or ""."""
        if self.paused:
            return "paused"
        return "full" if self.limit and self.running >= self.limit else ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "counts": dict(self.counts), "running": self.running, "limit": self.limit,
                "paused": self.paused}


@record
class Figures:
    """The queue's figures at one moment: what status, the app's strip and the metrics show."""

    at: float
    counts: dict  # state -> jobs in it now, every state present
    workers: list  # the live workers (WorkerInfo)
    latency: float  # seconds the oldest due job has waited to run; 0 if none waits
    finished: dict  # (queue, state) -> jobs that ever reached completed or dead there
    queues: list  # QueueInfo of every queue with jobs or settings
    latencies: dict  # queue -> its latency, when asked for (a paused queue's jobs are not waiting to run: 0)

    @property
    def busy(self) -> int:
        """Live workers running a job."""
        return sum(1 for w in self.workers if w.job_id)


# --- settings -----------------------------------------------------------------------------------


@record
class SettingRule:
    key: str
    default: Any
    kind: type  # int, float, or str (a shell command; low/high bound its length)
    low: float
    high: float
    low_open: bool  # True: the value must be > low, not >= low
    help: str
    seconds: bool = False  # a duration: text may also be 90s, 5m, 12h, 7d (see clock.parse_duration)

    def describe(self) -> str:
        if self.kind is str:
            return f"at most {_fmt(self.high)} characters, empty for none"
        noun = "an integer" if self.kind is int else "a number"
        low = f"> {_fmt(self.low)}" if self.low_open else f">= {_fmt(self.low)}"
        return f"{noun} {low} and <= {_fmt(self.high)}"

    def placeholder(self) -> str:
        return "none" if self.kind is str else f"default {self.default:g}"

    def parse(self, raw: Any) -> int | float | str:
        """Validate a value given as text (CLI) or number (API); raises InvalidInput."""
        if self.kind is str:
            return self._parse_text(raw)
        value: Any = raw
        if isinstance(raw, str):
            try:
                value = int(raw) if self.kind is int else float(raw)
            except ValueError:
                if not self.seconds:
                    raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}") from None
                try:
                    value = parse_duration(raw)
                except InvalidInput:
                    raise InvalidInput(f"{self.key} must be {self.describe()} (seconds, or a duration such as 90s, "
                                       f"5m, 12h, 7d), got {brief(raw)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}")
        if self.kind is int and isinstance(value, float):
            if not value.is_integer():
                raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}")
            value = int(value)
        if not math.isfinite(value):
            raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}")
        too_low = value <= self.low if self.low_open else value < self.low
        if too_low or value > self.high:
            raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}")
        return self.kind(value)


    def _parse_text(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise InvalidInput(f"{self.key} must be {self.describe()}, got {brief(raw)}")
        if len(raw) > self.high or "\0" in raw:
            raise InvalidInput(f"{self.key} must be {self.describe()}" + (", without NUL" if "\0" in raw else ""))
        if not is_utf8(raw):
            raise InvalidInput(f"{self.key} must be valid UTF-8 text")
        return raw.strip()


def setting_text(value: int | float | str) -> str:
    """A setting exactly as stored: 3600 not 3600.0, 1234567 not 1.23457e+06 (which :g printed)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


SETTINGS: dict[str, SettingRule] = {
    r.key: r
    for r in (
        SettingRule("max-retries", 3, int, 0, 1000, False, "retries after the first attempt"),
        SettingRule("backoff-base", 2.0, float, 0, 3600, False, "seconds, base of the exponential backoff"),
        SettingRule("backoff-max", 3600.0, float, 0, 31_536_000, False, "cap on one backoff delay, seconds", True),
        SettingRule("job-timeout", 0.0, float, 0, 31_536_000, False, "seconds a job may run, 0 = no limit", True),
        # Not below 0.05 s: an idle worker polls the database each time (5e-324 took 54% of a core;
        # 0.01 s about 20%, 0.05 s about 4%). Wake-ups make a new job start at once anyway.
        SettingRule("poll-interval", 0.5, float, 0.05, 3600, False, "seconds between polls of an idle worker", True),
        SettingRule("lease-timeout", 30.0, float, 1, 86_400, False, "seconds without heartbeat before a job is taken back",
                    True),
        SettingRule("worker-count", 1, int, 0, 256, False, "default pool size"),
        SettingRule("output-limit", 65536, int, 0, 64 * 1024 * 1024, False, "bytes of stdout and of stderr kept per attempt"),
        # Hooks (hooks.py): the job reaches them as data (environment, JSON on stdin), never as text.
        SettingRule("on-completed", "", str, 0, 4096, False, "hook: shell command run when a job completes"),
        SettingRule("on-dead", "", str, 0, 4096, False, "hook: shell command run when a job goes dead"),
        SettingRule("hook-timeout", 30.0, float, 0, 86_400, True, "seconds a hook may run before it is killed", True),
    )
}


def setting_rule(key: str) -> SettingRule:
    rule = SETTINGS.get(key)
    if rule is None:
        raise InvalidInput(f"unknown setting {key!r}; valid keys: {', '.join(SETTINGS)}")
    return rule


@record
class Settings:
    max_retries: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    job_timeout: float = 0.0
    poll_interval: float = 0.5
    lease_timeout: float = 30.0
    worker_count: int = 1
    output_limit: int = 65536
    on_completed: str = ""
    on_dead: str = ""
    hook_timeout: float = 30.0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "Settings":
        """Build from stored key/value text; a value that no longer validates falls back to the default."""
        kwargs = {}
        for key, rule in SETTINGS.items():
            raw = values.get(key)
            if raw is None:
                continue
            try:
                kwargs[key.replace("-", "_")] = rule.parse(raw)
            except InvalidInput:
                pass
        return cls(**kwargs)

    def as_dict(self) -> dict[str, int | float | str]:
        return {key: getattr(self, key.replace("-", "_")) for key in SETTINGS}

    def backoff(self, attempts: int) -> float:
        """Delay before the next attempt after failed attempt number `attempts` (1-based)."""
        try:
            delay = self.backoff_base**attempts
        except OverflowError:
            delay = math.inf
        return min(delay, self.backoff_max)


