"""The engine's own ceiling: claim + finish through the store, no subprocess, in 1 and 4 OS processes."""

from __future__ import annotations

import json
import subprocess
import time

from common import PYTHON, ROOT, Row, Scratch, count_states, env, seed_true_jobs

# One worker process: open the store, wait for the common start time, then claim and complete jobs
# until none is left, with the store call a worker makes: finish the jobs it ran and claim the next
# in one transaction; one job at a time, or `chain` at a time as a worker does on short jobs.
LOOP = """
import json, sys, time
sys.path.insert(0, {root!r})
from core import Queue
from core.store import Ended, Outcome
q = Queue.open({db!r})
store, wid = q.store, "bench:%d" % {index}
start_at = {start_at}
time.sleep(max(0.0, start_at - time.time()))
t0 = time.time(); n = 0
now = time.time()
jobs = store.record_and_claim([], wid, now, now + 30.0, {chain})[1]
while jobs:
    now = time.time()
    ended = [Ended(j.id, j.attempts, Outcome("completed", None, 0, None, now, now)) for j in jobs]
    jobs = store.record_and_claim(ended, wid, now, now + 30.0, {chain})[1]
    n += len(ended)
print(json.dumps({{"start": t0, "end": time.time(), "n": n}}))
"""


def claim_complete(n: int, workers: int, chain: int = 1) -> float:
    with Scratch() as tmp:
        db = str(tmp / "jobs.db")
        seed_true_jobs(db, n)
        start_at = time.time() + 1.0 + 0.2 * workers  # after every process has imported and opened
        procs = [subprocess.Popen([PYTHON, "-c", LOOP.format(root=str(ROOT), db=db, index=i, start_at=start_at, chain=chain)],
                                  stdout=subprocess.PIPE, env=env()) for i in range(workers)]
        reports = []
        for p in procs:
            out, _ = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError("claim/finish worker failed")
            reports.append(json.loads(out))
        done = sum(r["n"] for r in reports)
        if done != n or count_states(db)["completed"] != n:
            raise RuntimeError(f"claimed {done} of {n}")
        return n / (max(r["end"] for r in reports) - min(r["start"] for r in reports))


def run(quick: bool) -> list[Row]:
    n = 5000 if quick else 20000
    one = claim_complete(n, 1)
    four = claim_complete(n, 4)
    from core.chain import CHAIN  # (on the path since seed_true_jobs)

    chained = claim_complete(n, 4, CHAIN)
    return [
        Row("queue overhead: claim+finish, 1 process", one, "jobs/s", note="store calls only, no subprocess"),
        Row("queue overhead: claim+finish, 4 processes", four, "jobs/s", f"1 process {one:,.0f} jobs/s",
            four / one, ">= 8,000 jobs/s", four >= 8000),
        Row(f"queue overhead: claim+finish in chains of {CHAIN}, 4 processes", chained, "jobs/s",
            f"one at a time {four:,.0f} jobs/s", chained / four, "(ratio only)", None,
            "as a worker records and claims short jobs (core.chain.CHAIN)"),
    ]
