"""The SQL of both backends, by name, and the helpers that turn its rows into Jobs.

A statement the dialects agree on is written once in COMMON: `?` marks a parameter and `{ids}` a
list of values (`IN (?, ?, ...)` on SQLite, filled in per call; `= ANY(%s)` on PostgreSQL, at
import). true/false are SQLite keywords too (3.23+). Tables are unqualified: PostgreSQL connections
set search_path to the queue's schema. Where the dialects differ (SQLite names its partial indexes,
PostgreSQL skips locked rows), each has its own text under the same name in SQLITE and POSTGRES.
Everything is resolved here, once per process: a call only looks its statement up. The schemas are
in core/migrations.py.
"""

from __future__ import annotations

from .models import STATES, Job, Run

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Iterable, Sequence
    from .models import JobSpec
    from .outcome import Outcome

IDS_AT_ONCE = 500  # ids bound per statement where a caller's list may be long (SQLite caps parameters)

JOB_COLUMNS = (
    "id, command, state, attempts, max_retries, priority, run_at, timeout, created_at, updated_at, "
    "started_at, finished_at, exit_code, last_error, worker, lease_until, queue, cwd, env, schedule, unique_key, "
    "after_ids, waiting"
)
ENV_AT = 18  # the env column's place in JOB_COLUMNS: JSON text or NULL


def job_from_row(row: Sequence) -> Job:
    if row[ENV_AT] is None:
        return Job(*row)
    import json  # only for jobs that have an env: `status` and most claims never load it

    try:
        env = json.loads(row[ENV_AT])
    except ValueError:  # not JSON (written by hand): kept as it is, and a worker refuses to start it
        env = row[ENV_AT]
    return Job(*row[:ENV_AT], env, *row[ENV_AT + 1:])


def job_row(spec: JobSpec, job_id: str, now: float, after: Sequence[str] = (), waiting: int = 0) -> tuple:
    """The values of insert_jobs for one new job (id, command, state, max_retries, priority, run_at,
    timeout, created_at, updated_at, queue, cwd, env, unique_key, after_ids, waiting)."""
    env = None
    if spec.env:
        import json  # only for jobs with an env

        env = json.dumps(spec.env, ensure_ascii=False)
    return (job_id, spec.command, "pending", spec.max_retries, spec.priority, spec.run_at, spec.timeout, now, now,
            spec.queue, spec.cwd, env, spec.unique_key, " ".join(after) or None, waiting)


def records_run(outcome: Outcome) -> bool:
    """Whether finishing this attempt writes a run row. A success that printed nothing does not:
    the job row already holds all of it (worker, start, end, exit code), and on short jobs the row
    and its index entry were a fifth of the transaction. job_with_runs() puts it back when read."""
    return outcome.state != "completed" or bool(outcome.stdout) or bool(outcome.stderr)


RUN_COLUMNS = ("attempt, worker, started_at, finished_at, exit_code, error, {stdout}, {stderr}, "
               "length(stdout), length(stderr), stdout_dropped, stderr_dropped")


def run_columns(tail: str | None = None) -> str:
    """RUN_COLUMNS with whole streams, or with `tail` (a SQL expression of {col}) for each."""
    if tail is None:
        return RUN_COLUMNS.format(stdout="stdout", stderr="stderr")
    return RUN_COLUMNS.format(stdout=tail.format(col="stdout"), stderr=tail.format(col="stderr"))


def job_with_runs(row: Sequence, run_rows: Iterable[Sequence]) -> Job:
    """A job row and its run rows (run_columns(), oldest first), plus the attempt that completed it
    quietly (no row, see records_run): a completed job whose last run did not end when the job did."""
    job = job_from_row(row)
    runs = []
    for n, r in enumerate(run_rows, 1):
        out, err = bytes(r[6] or b""), bytes(r[7] or b"")  # SQLite's substr() of an empty blob is NULL
        runs.append(Run(job.id, n, *r[:6], out, err, r[10], r[11], r[8] - len(out), r[9] - len(err)))
    if job.state == "completed" and (not runs or runs[-1].finished_at != job.finished_at):
        runs = [*runs, Run(job.id, len(runs) + 1, job.attempts, job.worker, job.started_at, job.finished_at,
                           job.exit_code, None)]
    return job._replace(runs=tuple(runs))


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


WORKER_JOB = "(SELECT j.id FROM jobs j WHERE j.state = 'processing' AND j.worker = w.id ORDER BY j.started_at DESC LIMIT 1)"
# A dead job whose unique_key an unfinished job holds now stays dead (the key is that job's); of
# several dead jobs with one key retried together, the latest takes it and the others stay dead.
# A retried job waits again for its dependencies not completed (a dependency pruned counts as done).
# {among}: the retried ids, for the latest of them.
REQUEUE = """UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, finished_at = NULL,
                    worker = NULL, lease_until = NULL,
                    waiting = (SELECT count(*) FROM deps d JOIN jobs a ON a.id = d.after_id
                               WHERE d.job_id = jobs.id AND a.state != 'completed')
             WHERE state = 'dead' AND state != 'processing'
             AND (unique_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs o WHERE o.unique_key = jobs.unique_key
                                                    AND o.state IN ('pending', 'failed', 'processing'))
                  AND seq = (SELECT max(l.seq) FROM jobs l WHERE l.unique_key = jobs.unique_key
                             AND l.state = 'dead'{among}))"""

DEAD_WITH_DEPS = """SELECT id, run_at, updated_at, finished_at, attempts, last_error FROM jobs
                    WHERE state = 'dead' AND EXISTS (SELECT 1 FROM deps d WHERE d.job_id = jobs.id)"""

# A job that may be claimed once due: waiting, not running, no dependency left (jobs_ready's condition,
# written out literally wherever that index is to be used).
READY_WHERE = "state IN ('pending', 'failed') AND waiting = 0"

# The earliest run_at among claimable jobs, as a skip scan of jobs_ready: the first job of each
# priority, found one priority after the other (min(run_at) alone reads every waiting job).
NEXT_DUE = """WITH RECURSIVE levels(p) AS (
        SELECT (SELECT priority FROM jobs{hint} WHERE {ready}
                ORDER BY priority DESC, run_at, seq LIMIT 1)
        UNION ALL
        SELECT (SELECT priority FROM jobs{hint} WHERE {ready} AND priority < levels.p
                ORDER BY priority DESC, run_at, seq LIMIT 1)
        FROM levels WHERE levels.p IS NOT NULL)
    SELECT min((SELECT run_at FROM jobs{hint} WHERE {ready} AND priority = levels.p
                ORDER BY priority DESC, run_at, seq LIMIT 1))
    FROM levels WHERE levels.p IS NOT NULL"""

COMMON: dict[str, str] = {
    "job": f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?",
    "runs": f"SELECT {run_columns()} FROM runs WHERE job_id = ? ORDER BY id",
    "runs_tail": "SELECT {columns} FROM runs WHERE job_id = ? ORDER BY id",  # {columns}: run_columns(tail)
    "completed_since": "SELECT count(*) FROM jobs WHERE state = 'completed' AND finished_at >= ?",
    # A claim undone; a cancel requested meanwhile is honoured: dead, 'cancelled', as if it was waiting.
    "release": """UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'dead' WHEN attempts > 1 THEN 'failed'
                                          ELSE 'pending' END,
                        last_error = CASE WHEN cancel_requested THEN 'cancelled' ELSE last_error END,
                        finished_at = CASE WHEN cancel_requested THEN CAST(? AS DOUBLE PRECISION) END,
                        attempts = attempts - 1, updated_at = ?, worker = NULL, started_at = NULL,
                        lease_until = NULL, cancel_requested = false
                 WHERE id = ? AND worker = ? AND attempts = ? AND state = 'processing'
                 RETURNING state""",
    "renew_jobs": "UPDATE jobs SET lease_until = ? WHERE state = 'processing' AND worker {ids} RETURNING id",
    "renew_workers": "UPDATE workers SET heartbeat_at = ? WHERE id {ids}",
    # `state != 'processing'` is implied; written out, it lets SQLite's partial index jobs_state_seq apply
    "requeue_all": REQUEUE.format(among="") + " RETURNING id, queue",
    "requeue": REQUEUE.format(among=" AND l.id {ids}") + " AND id {ids} RETURNING id, queue",  # ids twice
    "cancel_waiting": """UPDATE jobs SET state = 'dead', last_error = 'cancelled', finished_at = ?, updated_at = ?
                         WHERE id = ? AND state IN ('pending', 'failed')""",
    "request_cancel": "UPDATE jobs SET cancel_requested = true WHERE id = ? AND state = 'processing'",
    "cancel_requested": "SELECT id FROM jobs WHERE cancel_requested AND id {ids}",
    "prune": "DELETE FROM jobs WHERE state {ids} AND finished_at < ? RETURNING id, state, queue",
    # hooks owed (schema 15): written by a cancel, taken by a worker's heartbeat
    "owe_hook": "INSERT INTO hooks_due (job_id, state) VALUES (?, ?)",
    "hooks_owed": "SELECT 1 FROM hooks_due LIMIT 1",
    "add_gone": """INSERT INTO finished_gone (queue, state, n) VALUES (?, ?, ?)
                   ON CONFLICT (queue, state) DO UPDATE SET n = finished_gone.n + excluded.n""",
    "gone": "SELECT queue, state, n FROM finished_gone",
    # schedules (core/schedules.py)
    "add_schedule": """INSERT INTO schedules (name, cron, tz, job, paused, next_due, created_at)
                       VALUES (?, ?, ?, ?, false, ?, ?)""",
    "schedules": """SELECT s.name, s.cron, s.tz, s.job, s.paused, s.next_due, s.last_due, s.last_job, j.state
                    FROM schedules s LEFT JOIN jobs j ON j.id = s.last_job ORDER BY s.name""",
    "schedule": "SELECT cron, tz, paused FROM schedules WHERE name = ?",
    "remove_schedule": "DELETE FROM schedules WHERE name = ?",
    "pause_schedule": "UPDATE schedules SET paused = ?, next_due = ? WHERE name = ?",
    "due_schedules": "SELECT name, cron, tz, job, next_due, last_job FROM schedules WHERE NOT paused AND next_due <= ?",
    # Only the pool that saw this due time moves it on (see core/schedules.py).
    "advance_schedule": """UPDATE schedules SET next_due = ?, last_due = ?, last_job = coalesce(?, last_job)
                           WHERE name = ? AND next_due = ? AND NOT paused""",
    "job_state": "SELECT state FROM jobs WHERE id = ?",
    "add_deps": "INSERT INTO deps (after_id, job_id) VALUES (?, ?)",
    "has_dependents": "UPDATE jobs SET has_dependents = true WHERE id {ids} AND NOT has_dependents",
    "dead_dependency": """UPDATE jobs SET state = 'dead', last_error = ?, finished_at = ?, updated_at = ?
                          WHERE id = ? AND state = 'pending'""",
    "waiting_on": """SELECT d.job_id, d.after_id FROM deps d JOIN jobs a ON a.id = d.after_id
                     WHERE d.job_id {ids} AND a.state != 'completed' ORDER BY d.job_id, d.after_id""",
    "existing_ids": "SELECT id FROM jobs WHERE id {ids}",
    "dependents": "SELECT job_id FROM deps WHERE after_id = ? ORDER BY job_id",
    # retried jobs whose dependency is dead (not retried with them) are dead again at once
    "redead": """UPDATE jobs SET state = 'dead', finished_at = ?, updated_at = ?,
                        last_error = 'dependency ' || (SELECT min(a.id) FROM deps d JOIN jobs a ON a.id = d.after_id
                                                       WHERE d.job_id = jobs.id AND a.state = 'dead') || ' is dead'
                 WHERE id {ids} AND state = 'pending' AND waiting > 0
                   AND EXISTS (SELECT 1 FROM deps d JOIN jobs a ON a.id = d.after_id
                               WHERE d.job_id = jobs.id AND a.state = 'dead')""",
    "still_pending": "SELECT id FROM jobs WHERE id {ids} AND state = 'pending'",  # after a redead and its trigger
    # what a retry that leaves a job dead puts back as it was (only jobs with dependencies can be left so)
    "dead_with_deps_all": DEAD_WITH_DEPS,
    "dead_with_deps": DEAD_WITH_DEPS + " AND id {ids}",
    "restore_dead": """UPDATE jobs SET run_at = ?, updated_at = ?, finished_at = ?, attempts = ?, last_error = ?
                       WHERE id = ? AND state = 'dead'""",
    "held_keys": ("SELECT unique_key, id FROM jobs WHERE unique_key {ids}"
                  " AND state IN ('pending', 'failed', 'processing')"),  # jobs_unique
    "mark_scheduled": "UPDATE jobs SET schedule = ? WHERE id = ?",
    "next_schedule_due": "SELECT min(next_due) FROM schedules WHERE NOT paused",
    "read_settings": "SELECT key, value FROM settings",
    "write_setting": ("INSERT INTO settings (key, value) VALUES (?, ?)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    "register_worker": """INSERT INTO workers (id, host, pid, job_id, started_at, heartbeat_at, stop_requested)
                          VALUES (?, ?, ?, NULL, ?, ?, false)
                          ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, job_id = NULL,
                              started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                              stop_requested = false""",
    "remove_worker": "DELETE FROM workers WHERE id = ?",
    # queues: a row only while the queue has a limit or is paused (the claim's fast path needs none)
    "queue_settings": "SELECT name, max_running, paused FROM queues ORDER BY name",
    "queue_limit": ("INSERT INTO queues (name, max_running, paused) VALUES (?, ?, false)"
                    " ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running"),
    "queue_pause": ("INSERT INTO queues (name, max_running, paused) VALUES (?, 0, ?)"
                    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused"),
    "queue_tidy": "DELETE FROM queues WHERE name = ? AND max_running = 0 AND NOT paused",
    # A worker's current job is the processing job that names it (workers.job_id is unused).
    "list_workers": f"""SELECT w.id, w.host, w.pid, {WORKER_JOB}, w.started_at, w.heartbeat_at, w.stop_requested
                        FROM workers w WHERE w.heartbeat_at >= ? ORDER BY w.started_at, w.id""",
    "request_stop_all": "UPDATE workers SET stop_requested = true RETURNING id",
    "request_stop": "UPDATE workers SET stop_requested = true WHERE id {ids} RETURNING id",
    "stop_requested": "SELECT id FROM workers WHERE stop_requested AND id {ids}",
    # Live output (core/live.py). An older attempt never overwrites a newer one's row (a worker whose
    # job was taken back may still push once).
    "push_live": """INSERT INTO live (job_id, attempt, worker, updated_at, stdout_total, stderr_total, stderr, stdout)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt, worker = excluded.worker,
                        updated_at = excluded.updated_at, stdout_total = excluded.stdout_total,
                        stderr_total = excluded.stderr_total, stderr = excluded.stderr, stdout = excluded.stdout
                    WHERE live.attempt <= excluded.attempt""",
    # Only once the attempt is recorded: until then readers still take the job for running.
    "drop_live": """DELETE FROM live WHERE job_id = ? AND attempt = ? AND worker = ? AND NOT EXISTS
                        (SELECT 1 FROM jobs WHERE id = ? AND attempts = ? AND worker = ? AND state = 'processing')""",
    "live_held": "SELECT 1 FROM jobs WHERE id = ? AND attempts = ? AND worker = ? AND state = 'processing'",
    "live_gc": "DELETE FROM live WHERE job_id NOT IN (SELECT id FROM jobs WHERE state = 'processing')",
    # One statement, one snapshot: the job's state and its running attempt's output, each stream only
    # if more was written than the reader has (the first two parameters).
    "live_view": """SELECT j.state, j.attempts, j.worker, j.started_at, l.stdout_total, l.stderr_total,
                           CASE WHEN l.stdout_total > ? THEN l.stdout END, CASE WHEN l.stderr_total > ? THEN l.stderr END
                    FROM jobs j LEFT JOIN live l ON l.job_id = j.id AND l.attempt = j.attempts AND l.worker = j.worker
                    WHERE j.id = ?""",
}

CLAIM_SET = """UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker = ?, started_at = ?,
                      updated_at = ?, lease_until = ?, finished_at = NULL, exit_code = NULL, cancel_requested = false"""
# A job's queue may be claimed from unless it is paused or has its limit of processing jobs. The
# first test is uncorrelated (evaluated once per statement): with no paused or limited queue, the
# common case, the claim costs what it did before queues.
# A claim that skips jobs (paused, full or unserved queues) reads each skipped job's row for its queue.
# The held-back queues are found once per statement (an uncorrelated NOT IN), not once per job walked.
QUEUE_OK = """(NOT EXISTS (SELECT 1 FROM queues) OR r.queue NOT IN (
        SELECT q.name FROM queues q WHERE q.paused OR (q.max_running > 0 AND q.max_running <=
            (SELECT count(*) FROM jobs p{running} WHERE p.state = 'processing' AND p.queue = q.name))))"""
# A chain's claims after the first take no job of a limited queue: the first worker to chain would
# otherwise hold every slot of a small limit and run them one after the other while the others wait.
QUEUE_FREE = """(NOT EXISTS (SELECT 1 FROM queues) OR r.queue NOT IN (
        SELECT q.name FROM queues q WHERE q.paused OR q.max_running > 0))"""
NOT_PAUSED = "(NOT EXISTS (SELECT 1 FROM queues) OR queue NOT IN (SELECT name FROM queues WHERE paused))"
# A worker asked to stop claims nothing from the moment `worker stop` commits, not from the moment its
# heartbeat hears of it: the request and a claim at the end of a job could otherwise cross.
NOT_STOPPING = "AND NOT EXISTS (SELECT 1 FROM workers WHERE id = ? AND stop_requested)"
CLAIM = f"""{CLAIM_SET} WHERE seq = ({{pick}}) AND state IN ('pending', 'failed') {NOT_STOPPING}
        RETURNING {JOB_COLUMNS}"""
# A claim's choice of job: the first ready one in claim order. Left for SqlStore._claim_sql:
# {columns} (more than r.seq for pick_among), {index} (SQLite's) and {served} ("", or one queue).
PICK = """SELECT r.seq{{columns}} FROM jobs AS r{{index}}
        WHERE r.state IN ('pending', 'failed') AND r.waiting = 0 AND r.run_at <= ?{{served}} AND {ok}
        ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 1{lock}"""


def pick_among(pick: str, n: int, served: str) -> str:
    """`pick` for a worker of n queues: each queue's first job (one seek in jobs_ready_queue), then
    the first of those, so that the other queues' ready jobs are never walked. `served` names one
    queue; the statement takes (now, queue) for each queue in turn."""
    first = pick.replace("{columns}", ", r.priority, r.run_at").replace("{served}", served)
    firsts = " UNION ALL ".join(f"SELECT * FROM ({first}) AS q{i}" for i in range(n))
    return f"SELECT seq FROM ({firsts}) AS firsts ORDER BY priority DESC, run_at, seq LIMIT 1"


FINISH_SET = """UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), exit_code = ?, last_error = ?,
                       started_at = coalesce(CAST(? AS DOUBLE PRECISION), started_at), finished_at = ?, updated_at = ?,
                       lease_until = NULL, cancel_requested = false
                WHERE id = ? AND worker = ? AND attempts = ? AND state = 'processing'"""

# At most 100 a beat, the oldest first; on PostgreSQL another pool's beat takes the next ones.
TAKE_HOOKS = """DELETE FROM hooks_due WHERE seq IN (SELECT seq FROM hooks_due ORDER BY seq LIMIT 100{lock})
                RETURNING seq, job_id, state"""


SQLITE: dict[str, str] = {
    **COMMON,
    # INDEXED BY (filled in by SqlStore._claim_sql): without statistics the planner picks
    # jobs(state, ...) and sorts every ready job per claim (O(n)); the partial index walks in claim
    # order and stops at the first due job.
    "claim": CLAIM,
    "pick": PICK.format(ok=QUEUE_OK.format(running=" INDEXED BY jobs_running"), lock=""),
    "pick_more": PICK.format(ok=QUEUE_FREE, lock=""),
    "finish": FINISH_SET,
    "finish_if_lease": FINISH_SET + " AND lease_until <= ?",
    # Not run: the claim itself holds SQLite's one write lock (PostgreSQL's text says why it locks).
    "lock_limited": "SELECT name FROM queues WHERE max_running > 0{served} ORDER BY name",
    # the processing jobs are few: scan them all (no index on lease_until, see schema 4)
    "expired": f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_running WHERE state = 'processing' AND lease_until < ?",
    # kept by triggers (schemas 2, 7); a row's key is "STATE QUEUE". A state's rows are one range of
    # keys (' ' sorts just before '!'), summed in place: a GROUP BY on substr() sorted them (5x slower
    # at 5,000 queues)
    "counts": " UNION ALL ".join(f"SELECT '{state}', coalesce(sum(n), 0) FROM queue_counts"
                                 f" WHERE k >= '{state} ' AND k < '{state}!'" for state in STATES),
    "queue_counts": ("SELECT substr(k, instr(k, ' ') + 1), substr(k, 1, instr(k, ' ') - 1), n FROM queue_counts"
                     " WHERE n != 0"),
    "count_in": "SELECT coalesce(sum(n), 0) FROM queue_counts WHERE k {ids}",  # keys "STATE QUEUE"
    "next_due": NEXT_DUE.format(hint=" INDEXED BY jobs_ready", ready=f"{READY_WHERE}{{served}} AND {NOT_PAUSED}"),
    "insert_jobs": ("INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, created_at,"
                    " updated_at, queue, cwd, env, unique_key, after_ids, waiting)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    "after_states": "SELECT id, state FROM jobs WHERE id {ids}",
    "prune_runs": "DELETE FROM runs WHERE job_id = ?",  # executemany: one id a row
    "take_hooks": TAKE_HOOKS.format(lock=""),
}


def postgres(sql: str) -> str:
    """A statement written for SQLite (`?`, `{ids}`) in PostgreSQL's placeholders."""
    return sql.replace("?", "%s").replace("{ids}", "= ANY(%s)")


POSTGRES: dict[str, str] = {
    **{name: postgres(sql) for name, sql in COMMON.items()},
    "claim": postgres(CLAIM),
    "pick": postgres(PICK.format(ok=QUEUE_OK.format(running=""), lock=" FOR UPDATE OF r SKIP LOCKED")),
    "pick_more": postgres(PICK.format(ok=QUEUE_FREE, lock=" FOR UPDATE OF r SKIP LOCKED")),
    "next_due": NEXT_DUE.format(hint="", ready=f"{READY_WHERE}{{served}} AND {NOT_PAUSED}"),
    # Taken before the claims of a transaction: claims that may take from a limited queue run one at a
    # time, and each counts that queue's processing jobs in a statement started after the lock, so it
    # sees every claim committed before (see README, "Queues"). An empty table: a no-op.
    "lock_limited": "SELECT name FROM queues WHERE max_running > 0{served} ORDER BY name FOR UPDATE",
    "finish": postgres(FINISH_SET),
    "finish_if_lease": postgres(FINISH_SET + " AND lease_until <= ?"),
    "expired": postgres(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'processing' AND lease_until < ?"),
    # kept by triggers (schema 12), summed now and then by fold_counts
    "counts": "SELECT state, sum(n)::bigint FROM job_counts GROUP BY state",
    "queue_counts": "SELECT queue, state, sum(n)::bigint FROM job_counts GROUP BY queue, state HAVING sum(n) <> 0",
    "count_in": "SELECT coalesce(sum(n), 0)::bigint FROM job_counts WHERE state || ' ' || queue = ANY(%s)",
    # Locked (FOR UPDATE, in id order: has_dependents is set on them next, and two enqueuers
    # that share a dependency queue up rather than deadlock): a dependency that finishes meanwhile
    # waits for this insert, then sees its dependents.
    "after_states": "SELECT id, state FROM jobs WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
    "insert_jobs": ("COPY jobs (id, command, state, max_retries, priority, run_at, timeout, created_at, updated_at,"
                    " queue, cwd, env, unique_key, after_ids, waiting) FROM STDIN"),
    "prune_runs": "DELETE FROM runs WHERE job_id = ANY(%s)",  # all ids at once
    "take_hooks": postgres(TAKE_HOOKS.format(lock=" FOR UPDATE SKIP LOCKED")),
}
