"""The rules of the state changes (core.lifecycle) as pure logic: no threads, no database."""

from __future__ import annotations

from core.lifecycle import CANCELLED, attempt_outcome, cancel_step, expired_outcome
from core.models import STATES, Job, Settings
from core.runner import RunResult

SETTINGS = Settings.from_mapping({"backoff-base": "2", "backoff-max": "3600"})


def job(name: str = "a", attempts: int = 1, max_retries: int = 1) -> Job:
    return Job(name, "true", "processing", attempts, max_retries, 0, 0.0, None, 0.0, 0.0, started_at=5.0,
               worker="w1", lease_until=40.0)


def result(error: str | None = None, exit_code: int | None = 0) -> RunResult:
    return RunResult(exit_code, error, 10.0, 11.0, b"out", b"err", 3, 4)


def test_an_attempt_ends_completed_dead_if_cancelled_else_failed_or_dead_by_its_retries():
    ok = attempt_outcome(job(), result(), SETTINGS)
    assert ok == ("completed", None, 0, None, 10.0, 11.0, b"out", b"err", 3, 4)
    cancelled = attempt_outcome(job(), result(CANCELLED, -9), SETTINGS)
    assert (cancelled.state, cancelled.run_at, cancelled.error, cancelled.stdout) == ("dead", None, CANCELLED, b"out")
    failed = attempt_outcome(job(attempts=1, max_retries=1), result("exit code 3", 3), SETTINGS)
    assert (failed.state, failed.run_at, failed.exit_code, failed.stderr_dropped) == ("failed", 11.0 + 2, 3, 4)
    assert attempt_outcome(job(attempts=2, max_retries=1), result("exit code 3", 3), SETTINGS).state == "dead"


def test_a_lease_expiry_is_a_failed_attempt_unless_a_cancel_was_asked():
    lost = expired_outcome(job(), False, SETTINGS, now=50.0)
    assert (lost.state, lost.run_at, lost.error, lost.started_at) == (
        "failed", 52.0, "lease expired: worker w1 stopped responding", 5.0)
    assert expired_outcome(job(attempts=2), False, SETTINGS, now=50.0).state == "dead"
    assert expired_outcome(job(), True, SETTINGS, now=50.0)[:6] == ("dead", None, None, CANCELLED, 5.0, 50.0)


def test_a_cancel_refuses_finished_jobs_asks_running_ones_and_ends_waiting_ones():
    steps = {state: cancel_step(state) for state in STATES}
    assert steps == {"pending": "end", "failed": "end", "processing": "request", "completed": "refuse",
                     "dead": "refuse"}
