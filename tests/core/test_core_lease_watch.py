"""LeaseWatch: which expired leases a heartbeat may take back (pure logic, times patched)."""

from __future__ import annotations

from core import pool as pool_module
from core.models import Job
from core.pool import LeaseWatch


def job(lease_until: float, attempts: int = 1) -> Job:
    return Job("j", "true", "processing", attempts, 3, 0, 0.0, None, 0.0, 0.0, 0.0, None, None, None, "w", lease_until)


def test_taken_back_only_after_two_sightings_an_interval_apart_with_no_wait(monkeypatch):
    clock = iter([10.0, 10.1, 10.6, 11.0, 11.6, 12.2, 12.3])
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: next(clock))
    watch = LeaseWatch()
    assert watch.confirm([job(5.0)], waited=False, interval=0.5) == []     # 10.0: first sighting
    assert watch.confirm([job(5.0)], waited=False, interval=0.5) == []     # 10.1: too soon
    assert watch.confirm([job(5.0)], waited=False, interval=0.5) == [job(5.0)]  # 10.6: confirmed
    assert watch.confirm([job(6.0)], waited=False, interval=0.5) == []     # 11.0: renewed meanwhile: anew
    assert watch.confirm([job(6.0)], waited=True, interval=0.5) == []      # a wait for the lock: forgets
    assert watch.confirm([job(6.0)], waited=False, interval=0.5) == []     # 11.6 after the wait: first again
    assert watch.confirm([job(6.0, attempts=2)], waited=False, interval=0.5) == []  # another attempt: anew
    assert watch.confirm([job(6.0, attempts=2)], waited=False, interval=0.5) == []  # 12.3 - 12.2 < 0.5
