"""Validation of job input (the JSON object of `enqueue`), shared by the CLI, the app and the API."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping

from .clock import in_range, parse_duration, parse_iso  # noqa: F401  (parse_duration: the CLI takes it from here)
from .errors import InvalidInput
from .models import DEFAULT_QUEUE, ID_PATTERN, QUEUE_PATTERN, JobSpec, Settings
from .text import brief, is_utf8

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any

FIELDS = ("command", "id", "max_retries", "priority", "run_at", "delay", "timeout", "queue", "cwd", "env",
          "unique_key", "after")
AFTER_MAX = 1000
UNIQUE_KEY_MAX = 200
MAX_DELAY = 10 * 365 * 86400  # ten years: beyond that it is a typo, not a schedule
INT64 = 2**63 - 1


def _integer(name: str, value: Any, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidInput(f"{name} must be an integer, got {brief(value)}")
    if abs(value) > INT64:
        raise InvalidInput(f"{name} is out of range: {brief(value)}")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{name} must be >= {minimum}, got {brief(value)}")
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number of seconds, got {brief(value)}")
    if value < 0:
        raise InvalidInput(f"{name} must be >= 0, got {brief(value)}")
    if value > MAX_DELAY:
        raise InvalidInput(f"{name} must be at most {MAX_DELAY} seconds, got {brief(value)}")
    return float(value)


def check_id(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value):
        raise InvalidInput(
            f"id must match {ID_PATTERN} (letters, digits, . _ : -; at most 128), got {brief(value)}"
        )
    return value


def check_queue(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(QUEUE_PATTERN, value):
        raise InvalidInput(f"queue must match {QUEUE_PATTERN} (lower-case letters, digits, _ and -;"
                           f" at most 64), got {brief(value)}")
    return value


ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # compiled at first use, as models.ID_PATTERN
OURS = ("QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_WORKER", "QUEUECTL_QUEUE")  # set by the worker
MAX_PATH = 4096


def _text(name: str, value: Any, what: str) -> str:
    """A string that can go to the operating system: no NUL, valid UTF-8."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be {what}, got {brief(value)}")
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain a NUL character")
    if not is_utf8(value):
        raise InvalidInput(f"{name} must be valid UTF-8 text")
    return value


def check_cwd(value: Any) -> str:
    """An absolute directory path (the CLI and the app make a relative one absolute first)."""
    path = _text("cwd", value, "a directory path")
    if not path.startswith("/"):
        raise InvalidInput(f"cwd must be an absolute path, got {brief(value)}")
    if len(path) > MAX_PATH:
        raise InvalidInput(f"cwd must be at most {MAX_PATH} characters long")
    return path


def check_env(value: Any) -> dict[str, str] | None:
    if not isinstance(value, (dict, Mapping)):
        raise InvalidInput(f"env must be an object of names to strings, got {brief(value)}")
    for key, text in value.items():
        if not isinstance(key, str) or not re.fullmatch(ENV_NAME, key):
            raise InvalidInput(f"env name must match {ENV_NAME}, got {brief(key)}")
        if key in OURS:
            raise InvalidInput(f"env name {key} is set by the worker; use another name")
        _text(f"env {key}", text, "a string")
    return dict(value) or None


def job_spec(obj: Any, settings: Settings, now: float) -> JobSpec:
    """Validate one job object; raises InvalidInput with a one-line reason."""
    if not isinstance(obj, (dict, Mapping)):  # dict first: the ABC check is slow per line of `enqueue -`
        raise InvalidInput(f"a job must be a JSON object, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in FIELDS]
    if unknown:
        raise InvalidInput(f"unknown field {brief(unknown[0])}; valid fields: {', '.join(FIELDS)}")
    command = _command(obj.get("command"))
    job_id = check_id(obj["id"]) if obj.get("id") is not None else None
    max_retries = settings.max_retries
    if obj.get("max_retries") is not None:
        max_retries = _integer("max_retries", obj["max_retries"], 0)
    priority = _integer("priority", obj["priority"]) if obj.get("priority") is not None else 0
    run_at = _run_at(obj, now)
    timeout = None
    if obj.get("timeout") is not None:
        timeout = _seconds("timeout", obj["timeout"]) or None  # 0 = the configured job-timeout
    queue = check_queue(obj["queue"]) if obj.get("queue") is not None else DEFAULT_QUEUE
    cwd = check_cwd(obj["cwd"]) if obj.get("cwd") is not None else None
    env = check_env(obj["env"]) if obj.get("env") is not None else None
    return JobSpec(command, job_id, max_retries, priority, run_at, timeout, queue, cwd, env,
                   _unique_key(obj.get("unique_key")), _after(obj.get("after"), job_id))


def _command(command: Any) -> str:
    """The shell command: text /bin/sh can be given, with something in it."""
    if not isinstance(command, str) or not command.strip():
        raise InvalidInput("command must be a non-empty string")
    if "\x00" in command:
        raise InvalidInput("command must not contain a NUL character")
    if not is_utf8(command):  # a lone surrogate: JSON "\ud800", or undecodable bytes on stdin
        raise InvalidInput("command must be valid UTF-8 text (it holds a lone surrogate or invalid bytes)")
    return command


def _run_at(obj: Mapping[str, Any], now: float) -> float:
    """When the job is due: its run_at, now plus its delay (not both), or now."""
    if obj.get("run_at") is not None and obj.get("delay") is not None:
        raise InvalidInput("give either run_at or delay, not both")
    if obj.get("run_at") is not None:
        if not isinstance(obj["run_at"], str):
            raise InvalidInput(f"run_at must be an ISO 8601 time string, got {brief(obj['run_at'])}")
        try:
            run_at = parse_iso(obj["run_at"])
        except (ValueError, OverflowError, OSError):
            run_at = None
        if run_at is None or not in_range(run_at):  # in_range: shown again as it was given
            raise InvalidInput(f"run_at is not an ISO 8601 time: {brief(obj['run_at'])}")
        return run_at
    if obj.get("delay") is not None:
        return now + _seconds("delay", obj["delay"])
    return now


def _after(value: Any, job_id: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > AFTER_MAX:
        raise InvalidInput(f"after must be a list of at most {AFTER_MAX} job ids, got {brief(value)}")
    ids = tuple(dict.fromkeys(check_id(v) for v in value))
    if job_id is not None and job_id in ids:
        raise InvalidInput(f"after: a job cannot wait for itself ({job_id!r})")
    return ids


def _unique_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= UNIQUE_KEY_MAX or "\x00" in value:
        raise InvalidInput(f"unique_key must be a string of 1..{UNIQUE_KEY_MAX} characters, got {brief(value)}")
    return _text("unique_key", value, "a string")


JOB_HINT = 'a job is a JSON object like {"command": "echo hi"}'


def parse_json(text: str) -> Any:
    """One JSON document of `enqueue`; InvalidInput, one line, for whatever is not valid input: bad
    syntax, nesting too deep for the parser, an integer too long to convert (Python's 4,300 digits)."""
    import json  # where used: plain `status` does not pay for it

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"invalid JSON ({exc}); {JOB_HINT}") from None
    except RecursionError:
        raise InvalidInput("invalid JSON: nested too deeply") from None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise InvalidInput(f"invalid JSON: an integer has more than {sys.get_int_max_str_digits():,} digits") from None
