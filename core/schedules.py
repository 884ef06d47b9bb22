"""Recurring jobs: a 5-field cron expression in an IANA time zone, one job per due time.

Every pool with a worker fires due schedules from its heartbeat. Which pool fires a due time is
decided by the database, not by a lock that can expire: firing moves the schedule's next_due from
the value the pool saw to the next one, in the transaction that inserts the job, so of two pools that
saw the same due time one moves it and the other changes nothing. The job's id is the schedule's
name and the due time (`nightly:20261130T0230Z`), a second guard. A due time missed while no pool ran
gives one catch-up job, and the next due time is counted from now. While the job a schedule made last
is still pending, retrying or running, a due time is skipped: a slow job never piles up behind itself.
Cron is evaluated by cronsim (Debian cron's rules, daylight-saving changes included) in the zone.
"""

from __future__ import annotations

import datetime

from .errors import InvalidInput, NotFound
from .record import record
from .text import brief

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any
    from .queue import Queue

_WARNED: set[tuple[str, float]] = set()
NAME_MAX = 100  # the job ids it makes add `:YYYYmmddTHHMMZ` and stay within the 128 of an id
NOT_IN_A_SCHEDULE = ("id", "run_at", "after")  # each due time makes a job of its own that runs at once


@record
class Schedule:
    name: str
    cron: str
    tz: str
    job: str  # the job's fields as JSON (the enqueue fields but id and run_at)
    paused: bool
    next_due: float
    last_due: float | None
    last_job: str | None
    last_state: str | None  # the last job's state now (None: none made, or pruned)

    def to_dict(self) -> dict[str, Any]:
        import json

        from .clock import to_iso

        return {"name": self.name, "cron": self.cron, "tz": self.tz, "job": json.loads(self.job),
                "paused": self.paused, "next_due": to_iso(self.next_due), "last_due": to_iso(self.last_due),
                "last_job": self.last_job, "last_state": self.last_state}


def check_zone(tz: str) -> Any:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"unknown time zone {brief(tz)} (an IANA name such as UTC or Europe/Berlin)") from None


def next_due(cron: str, tz: str, after: float) -> float:
    """The first time after `after` (epoch seconds) that the cron expression matches in zone tz.
    Raises InvalidInput for a bad expression, or one that never matches."""
    from cronsim import CronSim, CronSimError

    zone = check_zone(tz)
    if len(cron.split()) != 5:
        raise InvalidInput(f"a cron expression has 5 fields (minute hour day month weekday), got {brief(cron)}")
    try:
        found = next(CronSim(cron, datetime.datetime.fromtimestamp(after, zone)))
    except CronSimError as exc:
        raise InvalidInput(f"bad cron expression {brief(cron)}: {exc}") from None
    except StopIteration:
        raise InvalidInput(f"cron expression {brief(cron)} never matches") from None
    return found.timestamp()


def due_job_id(name: str, due: float) -> str:
    return f"{name}:{datetime.datetime.fromtimestamp(due, datetime.timezone.utc):%Y%m%dT%H%MZ}"


def check_job(obj: Any) -> str:
    """The job fields of a schedule as stored JSON; the fields are validated by the caller."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"a schedule's job must be a JSON object, got {type(obj).__name__}")
    given = [k for k in NOT_IN_A_SCHEDULE if k in obj]
    if given:
        raise InvalidInput(f"a schedule's job takes no {' or '.join(given)}: each due time makes its own job")
    import json

    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


# --- what Queue offers (queue.py calls these) ---------------------------------------------------


def add(queue: Queue, name: str, cron: str, job: Any, tz: str = "UTC") -> Schedule:
    """Validate everything, then store the schedule; its first due time is the next match from now."""
    from .validate import check_id, job_spec

    check_id(name)
    if len(name) > NAME_MAX:
        raise InvalidInput(f"a schedule name has at most {NAME_MAX} characters, got {len(name)}")
    text = check_job(job)
    job_spec(job, queue.settings(), queue.clock.now())  # the same checks as enqueue
    now = queue.clock.now()
    due = next_due(cron, tz, now)  # checks the expression and the zone: before anything is written
    queue.store.add_schedule(name, cron, tz, text, due, now)
    queue.store.notify("work")  # pools recompute when to fire
    return find(queue, name)


def find(queue: Queue, name: str) -> Schedule:
    for schedule in queue.store.schedules():
        if schedule.name == name:
            return schedule
    raise NotFound(f"no schedule {name!r}")


def set_paused(queue: Queue, name: str, paused: bool) -> None:
    """Pause, or resume from now: the due times passed while paused are not caught up."""
    found = queue.store.schedule(name)
    if found is None:
        raise NotFound(f"no schedule {name!r}")
    cron, tz, _ = found
    queue.store.pause_schedule(name, paused, next_due(cron, tz, queue.clock.now()))
    queue.store.notify("work")


def remove(queue: Queue, name: str) -> None:
    if not queue.store.remove_schedule(name):
        raise NotFound(f"no schedule {name!r}")


def fire_due(queue: Queue) -> list[str]:
    """Fire every schedule due by now (a pool's heartbeat calls this); returns the jobs made."""
    import json
    import logging

    from .validate import job_spec

    now, made = queue.clock.now(), []
    for name, cron, tz, job, seen, last_job in queue.store.due_schedules(now):
        try:
            spec = job_spec(json.loads(job), queue.settings(), now)
            following = next_due(cron, tz, now)  # after a gap, one catch-up job: counted from now
        except InvalidInput as exc:  # a zone gone from this host's tz database, a setting changed
            if (name, seen) not in _WARNED:  # once per due time and process; retried at each beat
                _WARNED.add((name, seen))
                logging.getLogger("queuectl.schedules").warning("schedule %s: cannot fire: %s", name, exc)
            continue
        job_id = due_job_id(name, seen)
        result = queue.store.fire_schedule(name, seen, following, last_job, spec, job_id, now)
        if result == "fired":
            made.append(job_id)
        elif result == "skipped":
            logging.getLogger("queuectl.schedules").info(
                "schedule %s: due time skipped, its last job %s is not finished", name, last_job)
    if made:
        queue.store.notify("work")
    return made
