"""Schedules: one job per schedule and due time, decided by the database; catch-up, skip while the
last job runs, pause, daylight-saving changes. On both backends (the `db` fixture)."""

from __future__ import annotations

import datetime
import multiprocessing

import pytest

from core import Queue
from core.clock import FixedClock
from core.errors import Conflict, InvalidInput, NotFound
from core.schedules import due_job_id, next_due
from core.store import Outcome

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC).timestamp()  # half a minute past 12:00


def at(*args: int) -> float:
    return datetime.datetime(*args, tzinfo=UTC).timestamp()


def complete(q: Queue, job_id: str) -> None:
    """Run the job as a worker would record it: claimed, then completed."""
    now = q.clock.now()
    job = q.store.claim("w", now, now + 30)
    assert job is not None and job.id == job_id
    q.store.finish(job.id, "w", job.attempts, Outcome("completed", None, 0, None, now, now))


@pytest.fixture
def fixed(db: str):
    clock = FixedClock(T0)
    q = Queue.open(db, clock=clock)
    yield q, clock
    q.close()


def test_each_due_time_makes_one_job_named_after_it(fixed):
    q, clock = fixed
    made = q.add_schedule("tick", "*/5 * * * *", {"command": "echo tick", "priority": 3})
    assert made.next_due == at(2026, 6, 1, 12, 5) and q.fire_schedules() == []
    clock.advance(270)  # 12:05:00
    assert q.fire_schedules() == ["tick:20260601T1205Z"] and q.fire_schedules() == []
    job = q.job("tick:20260601T1205Z")
    assert (job.command, job.priority, job.schedule, job.state) == ("echo tick", 3, "tick", "pending")
    assert job.to_dict()["schedule"] == "tick"
    [found] = q.schedules()
    assert (found.last_due, found.last_job, found.last_state) == (at(2026, 6, 1, 12, 5), job.id, "pending")
    assert found.next_due == at(2026, 6, 1, 12, 10)


def test_a_due_time_is_skipped_while_the_last_job_is_unfinished(fixed):
    q, clock = fixed
    q.add_schedule("sync", "* * * * *", {"command": "sync"})
    clock.advance(30)
    assert q.fire_schedules() == ["sync:20260601T1201Z"]
    clock.advance(60)
    assert q.fire_schedules() == []  # still pending: 12:02 skipped
    assert q.schedules()[0].next_due == at(2026, 6, 1, 12, 3)
    complete(q, "sync:20260601T1201Z")
    clock.advance(60)
    assert q.fire_schedules() == ["sync:20260601T1203Z"]


def test_missed_due_times_give_one_catch_up_job(fixed):
    q, clock = fixed
    q.add_schedule("hourly", "0 * * * *", {"command": "true"})
    clock.advance(10 * 3600)  # no pool ran for ten due times
    assert q.fire_schedules() == ["hourly:20260601T1300Z"]
    assert q.schedules()[0].next_due == at(2026, 6, 1, 23, 0)  # counted from now: 22:00:30
    assert q.count() == 1


def test_paused_schedules_fire_nothing_and_resume_from_now(fixed):
    q, clock = fixed
    q.add_schedule("p", "* * * * *", {"command": "true"})
    q.pause_schedule("p")
    clock.advance(600)
    assert q.fire_schedules() == [] and q.schedules()[0].paused
    q.pause_schedule("p", False)
    assert q.schedules()[0].next_due == at(2026, 6, 1, 12, 11) and q.fire_schedules() == []
    q.remove_schedule("p")
    assert q.schedules() == []
    with pytest.raises(NotFound):
        q.remove_schedule("p")


def test_bad_schedules_are_refused_with_the_reason(fixed):
    q, _ = fixed
    for cron, tz, reason in [("61 * * * *", "UTC", "Bad minute"), ("* * * *", "UTC", "5 fields"),
                             ("* * * * *", "Mars/Base", "unknown time zone"), ("0 0 30 2 *", "UTC", "Bad day-of-month")]:
        with pytest.raises(InvalidInput, match=reason):
            q.add_schedule("x", cron, {"command": "true"}, tz)
    with pytest.raises(InvalidInput, match="takes no id"):
        q.add_schedule("x", "* * * * *", {"command": "true", "id": "fixed"})
    with pytest.raises(InvalidInput, match="max_retries"):
        q.add_schedule("x", "* * * * *", {"command": "true", "max_retries": -1})
    q.add_schedule("x", "* * * * *", {"command": "true"})
    with pytest.raises(Conflict):
        q.add_schedule("x", "* * * * *", {"command": "true"})
    assert [s.name for s in q.schedules()] == ["x"]


def test_daylight_saving_nights_run_a_0230_job_once():
    berlin = "Europe/Berlin"
    # spring forward, 2027-03-28: 02:30 does not exist; it runs once, at 03:00 CEST (01:00 UTC)
    night = [next_due("30 2 * * *", berlin, at(2027, 3, 27, 12))]
    night.append(next_due("30 2 * * *", berlin, night[-1]))
    assert night == [at(2027, 3, 28, 1, 0), at(2027, 3, 29, 0, 30)]
    # fall back, 2026-10-25: 02:30 happens twice; it runs once, the first time (00:30 UTC)
    night = [next_due("30 2 * * *", berlin, at(2026, 10, 24, 12))]
    night.append(next_due("30 2 * * *", berlin, night[-1]))
    assert night == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]
    assert due_job_id("nightly", night[0]) == "nightly:20261025T0030Z"


def _fire_in_rounds(db: str, rounds: int, barrier, index: int) -> None:
    for k in range(1, rounds + 1):
        with Queue.open(db, clock=FixedClock(T0 + 60 * k)) as q:
            barrier.wait()
            q.fire_schedules()
            barrier.wait()
            if index == 0:  # one process runs the job, so the next due time is not skipped
                complete(q, f"race:{datetime.datetime.fromtimestamp(at(2026, 6, 1, 12, k), UTC):%Y%m%dT%H%MZ}")
            barrier.wait()


def test_pools_in_several_processes_make_one_job_per_due_time(db):
    with Queue.open(db, clock=FixedClock(T0)) as q:
        q.add_schedule("race", "* * * * *", {"command": "true"})
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_fire_in_rounds, args=(db, 5, barrier, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Queue.open(db) as q:
        jobs = q.jobs(limit=100)
        assert sorted(j.id for j in jobs) == [f"race:20260601T120{k}Z" for k in range(1, 6)]
        assert {j.state for j in jobs} == {"completed"}
