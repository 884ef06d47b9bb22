"""Dependencies: a chain of jobs, each `after` the one before, drained by `worker start --count 4`.
A chain runs one job at a time whatever the workers, so its floor is one process spawned after
another: `sh -c true` n times in a row."""

from __future__ import annotations

import sys

from common import QUEUECTL, ROOT, Row, Scratch, count_states, create_db, wall, wall_and_cpu


def seed_chain(db: str, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    from core import Queue

    with Queue.open(db) as q:
        q.enqueue_many([{"id": f"c{i}", "command": "true", **({"after": [f"c{i - 1}"]} if i else {})}
                        for i in range(n)])


def run(quick: bool) -> list[Row]:
    n = 200 if quick else 1000
    floor = n / wall(f"for i in $(seq {n}); do sh -c true; done", shell=True)
    with Scratch() as tmp:
        db = str(tmp / "jobs.db")
        create_db(db)
        seed_chain(db, n)
        seconds, cpu = wall_and_cpu([QUEUECTL, "--db", db, "worker", "start", "--count", "4", "--burst"])
        done = count_states(db)["completed"]
    if done != n:
        raise RuntimeError(f"the chain completed {done} of {n} jobs")
    rate = n / seconds
    return [
        Row(f"floor: sh -c true {n} times in a row", floor, "jobs/s"),
        Row(f"a chain of {n} dependent jobs, worker start --count 4", rate, "jobs/s", f"in a row {floor:,.0f} jobs/s",
            rate / floor, "(ratio only)", None, f"CPU {cpu / n * 1000:.2f} ms/job"),
    ]
