"""The SQL of both backends, by name, and the helpers that turn its rows into Jobs.

A statement the dialects agree on is written once in COMMON: `?` marks a parameter and `{ids}` a
list of values (`IN (?, ?, ...)` on SQLite, filled in per call; `= ANY(%s)` on PostgreSQL, at
import). true/false are SQLite keywords too (3.23+). Tables are unqualified: PostgreSQL connections
set search_path to the queue's schema. Where the dialects differ (SQLite names its partial indexes,
PostgreSQL skips locked rows), each has its own text under the same name in SQLITE and POSTGRES.
Everything is resolved here, once per process: a call only looks its statement up. The schemas'
migrations are at the end, one dict per backend: a new database runs them all from version 1.
"""

from __future__ import annotations

import sqlite3

from .models import Job, Run

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Iterable, Sequence
    from .outcome import Outcome

JOB_COLUMNS = (
    "id, command, state, attempts, max_retries, priority, run_at, timeout, created_at, updated_at, "
    "started_at, finished_at, exit_code, last_error, worker, lease_until, queue, cwd, env"
)
ENV_AT = 18  # the env column's place in JOB_COLUMNS: JSON text or NULL


def job_from_row(row: Sequence) -> Job:
    if row[ENV_AT] is None:
        return Job(*row)
    import json  # only for jobs that have an env: `status` and most claims never load it

    return Job(*row[:ENV_AT], json.loads(row[ENV_AT]), *row[ENV_AT + 1:])


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
REQUEUE = """UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, finished_at = NULL,
                    worker = NULL, lease_until = NULL WHERE state = 'dead' AND state != 'processing'"""

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
                 WHERE id = ? AND worker = ? AND attempts = ? AND state = 'processing'""",
    "renew_jobs": "UPDATE jobs SET lease_until = ? WHERE state = 'processing' AND worker {ids}",
    "renew_workers": "UPDATE workers SET heartbeat_at = ? WHERE id {ids}",
    # `state != 'processing'` is implied; written out, it lets SQLite's partial index jobs_state_seq apply
    "requeue_all": REQUEUE + " RETURNING id",
    "requeue": REQUEUE + " AND id {ids} RETURNING id",
    "cancel_waiting": """UPDATE jobs SET state = 'dead', last_error = 'cancelled', finished_at = ?, updated_at = ?
                         WHERE id = ? AND state IN ('pending', 'failed')""",
    "request_cancel": "UPDATE jobs SET cancel_requested = true WHERE id = ? AND state = 'processing'",
    "cancel_requested": "SELECT id FROM jobs WHERE cancel_requested AND id {ids}",
    "prune": "DELETE FROM jobs WHERE state {ids} AND finished_at < ? RETURNING id",
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
}

CLAIM_SET = """UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker = ?, started_at = ?,
                      updated_at = ?, lease_until = ?, finished_at = NULL, exit_code = NULL, cancel_requested = false"""
# A job's queue may be claimed from unless it is paused or has its limit of processing jobs. The
# first test is uncorrelated (evaluated once per statement): with no paused or limited queue, the
# common case, the claim costs what it did before queues. {served} is "" or a list of queues.
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
FINISH_SET = """UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), exit_code = ?, last_error = ?,
                       started_at = coalesce(CAST(? AS DOUBLE PRECISION), started_at), finished_at = ?, updated_at = ?,
                       lease_until = NULL, cancel_requested = false
                WHERE id = ? AND worker = ? AND attempts = ? AND state = 'processing'"""

SQLITE: dict[str, str] = {
    **COMMON,
    # INDEXED BY: without statistics the planner picks jobs(state, ...) and sorts every ready job
    # per claim (O(n)); the partial index walks in claim order and stops at the first due job.
    "claim": f"""{CLAIM_SET}
        WHERE seq = (SELECT r.seq FROM jobs AS r INDEXED BY jobs_ready
                     WHERE r.state IN ('pending', 'failed') AND r.run_at <= ?{{served}}
                       AND {QUEUE_OK.format(running=" INDEXED BY jobs_running")}
                     ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 1)
          AND state IN ('pending', 'failed') {NOT_STOPPING}
        RETURNING {JOB_COLUMNS}""",
    "claim_more": f"""{CLAIM_SET}
        WHERE seq = (SELECT r.seq FROM jobs AS r INDEXED BY jobs_ready
                     WHERE r.state IN ('pending', 'failed') AND r.run_at <= ?{{served}}
                       AND {QUEUE_FREE}
                     ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 1)
          AND state IN ('pending', 'failed') {NOT_STOPPING}
        RETURNING {JOB_COLUMNS}""",
    "next_due": f"SELECT min(run_at) FROM jobs WHERE state IN ('pending', 'failed'){{served}} AND {NOT_PAUSED}",
    "finish": FINISH_SET,
    "finish_if_lease": FINISH_SET + " AND lease_until <= ?",
    # Not run: the claim itself holds SQLite's one write lock (PostgreSQL's text says why it locks).
    "lock_limited": "SELECT name FROM queues WHERE max_running > 0{served} ORDER BY name",
    # the processing jobs are few: scan them all (no index on lease_until, see schema 4)
    "expired": f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_running WHERE state = 'processing' AND lease_until < ?",
    # kept by triggers (schemas 2, 7); a row's key is "STATE QUEUE"
    "counts": "SELECT substr(k, 1, instr(k, ' ') - 1) AS state, sum(n) FROM queue_counts GROUP BY state",
    "queue_counts": ("SELECT substr(k, instr(k, ' ') + 1), substr(k, 1, instr(k, ' ') - 1), n FROM queue_counts"
                     " WHERE n != 0"),
    "insert_jobs": ("INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, created_at,"
                    " updated_at, queue, cwd, env) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    "prune_runs": "DELETE FROM runs WHERE job_id = ?",  # executemany: one id a row
}


def _postgres(sql: str) -> str:
    return sql.replace("?", "%s").replace("{ids}", "= ANY(%s)")


POSTGRES: dict[str, str] = {
    **{name: _postgres(sql) for name, sql in COMMON.items()},
    "claim": _postgres(f"""{CLAIM_SET}
        WHERE seq = (SELECT r.seq FROM jobs r WHERE r.state IN ('pending', 'failed') AND r.run_at <= ?{{served}}
                       AND {QUEUE_OK.format(running="")}
                     ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 1 FOR UPDATE OF r SKIP LOCKED)
          AND state IN ('pending', 'failed') {NOT_STOPPING}
        RETURNING {JOB_COLUMNS}"""),
    "claim_more": _postgres(f"""{CLAIM_SET}
        WHERE seq = (SELECT r.seq FROM jobs r WHERE r.state IN ('pending', 'failed') AND r.run_at <= ?{{served}}
                       AND {QUEUE_FREE}
                     ORDER BY r.priority DESC, r.run_at, r.seq LIMIT 1 FOR UPDATE OF r SKIP LOCKED)
          AND state IN ('pending', 'failed') {NOT_STOPPING}
        RETURNING {JOB_COLUMNS}"""),
    "next_due": _postgres(f"SELECT min(run_at) FROM jobs WHERE state IN ('pending', 'failed'){{served}} AND {NOT_PAUSED}"),
    # Taken before the claims of a transaction: claims that may take from a limited queue run one at a
    # time, and each counts that queue's processing jobs in a statement started after the lock, so it
    # sees every claim committed before (see README, "Queues"). An empty table: a no-op.
    "lock_limited": "SELECT name FROM queues WHERE max_running > 0{served} ORDER BY name FOR UPDATE",
    "finish": _postgres(FINISH_SET),
    "finish_if_lease": _postgres(FINISH_SET + " AND lease_until <= ?"),
    "expired": _postgres(f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'processing' AND lease_until < ?"),
    "counts": "SELECT state, count(*) FROM jobs GROUP BY state",
    "insert_jobs": ("COPY jobs (id, command, state, max_retries, priority, run_at, timeout, created_at, updated_at,"
                    " queue, cwd, env) FROM STDIN"),
    "queue_counts": "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state",
    "prune_runs": "DELETE FROM runs WHERE job_id = ANY(%s)",  # all ids at once
}


# --- schemas ---------------------------------------------------------------------------------------

SQLITE_SCHEMA_VERSION = 7

SQLITE_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        command TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        run_at REAL NOT NULL,
        timeout REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        last_error TEXT,
        worker TEXT,
        lease_until REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_state_seq ON jobs(state, seq);
    CREATE INDEX jobs_state_finished ON jobs(state, finished_at);
    CREATE INDEX jobs_state_started ON jobs(state, started_at);
    CREATE INDEX jobs_ready ON jobs(priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
    CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'processing';
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        error TEXT,
        stdout BLOB NOT NULL DEFAULT x'',
        stderr BLOB NOT NULL DEFAULT x''
    );
    CREATE INDEX runs_job ON runs(job_id, id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        job_id TEXT,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        stop_requested INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Counts per state, so `status` costs the same at a million jobs as at ten. Triggers count state
    # changes and deletes; inserts are counted by insert_jobs, one UPDATE per batch: anything else
    # that inserts into jobs must add to job_counts itself.
    2: """
    CREATE TABLE job_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO job_counts (state, n)
        SELECT s.state, (SELECT count(*) FROM jobs WHERE jobs.state = s.state)
        FROM (SELECT 'pending' AS state UNION ALL SELECT 'processing' UNION ALL SELECT 'completed'
              UNION ALL SELECT 'failed' UNION ALL SELECT 'dead') AS s;
    CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    END;
    CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state IS NOT NEW.state BEGIN
        UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
        UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
    END;
    """,
    # Fewer index writes per job: partial indexes hold a row only while it can be listed that way
    # (by start time while processing, by finish time once finished). Queries name the condition.
    3: """
    DROP INDEX jobs_state_started;
    DROP INDEX jobs_state_finished;
    CREATE INDEX jobs_running ON jobs(started_at) WHERE state = 'processing';
    CREATE INDEX jobs_finished ON jobs(state, finished_at) WHERE finished_at IS NOT NULL;
    """,
    # jobs_lease was written at every claim, finish and heartbeat to find expired leases among the
    # processing jobs, which are few: they are scanned through jobs_running instead.
    4: """
    DROP INDEX jobs_lease;
    """,
    # Less written per job: runs without AUTOINCREMENT (it updated sqlite_sequence at every insert;
    # a rowid orders attempts as well), and jobs_state_seq without the few processing jobs (queries
    # that use it name `state != 'processing'`, as SQLite requires). Figures: bench/README.md.
    5: """
    CREATE TABLE runs_new (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        error TEXT,
        stdout BLOB NOT NULL DEFAULT x'',
        stderr BLOB NOT NULL DEFAULT x''
    );
    INSERT INTO runs_new SELECT id, job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr
        FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_job ON runs(job_id, id);
    DROP INDEX jobs_state_seq;
    CREATE INDEX jobs_state_seq ON jobs(state, seq) WHERE state != 'processing';
    """,
    # How many bytes of each stream an attempt wrote before the tail that was kept (output-limit),
    # so that what is shown can say so. Older attempts read as 0: nothing known to be missing.
    # The bytes output-limit dropped per stream. The blobs stay last, stdout the very last: an
    # output over 1 MiB is inserted as zeroblob() and written in place, and SQLite builds a record's
    # trailing zeroblob without holding its zeros in memory (any column after it would make it do so).
    6: """
    CREATE TABLE runs_new (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        error TEXT,
        stdout_dropped INTEGER NOT NULL DEFAULT 0,
        stderr_dropped INTEGER NOT NULL DEFAULT 0,
        stderr BLOB NOT NULL DEFAULT x'',
        stdout BLOB NOT NULL DEFAULT x''
    );
    INSERT INTO runs_new (id, job_id, attempt, worker, started_at, finished_at, exit_code, error, stderr, stdout)
        SELECT id, job_id, attempt, worker, started_at, finished_at, exit_code, error, stderr, stdout FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_job ON runs(job_id, id);
    """,
    # Queues (issue 13): a job's queue, working directory and variables (JSON text); the queues
    # with a limit or paused; counts per state and queue in place of job_counts. Their key is one
    # text, "STATE QUEUE": SQLite compares a one-column key on a fast path, and the triggers run
    # at every claim and finish (a (queue, state) key cost 6% more instructions per job).
    7: """
    ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE jobs ADD COLUMN cwd TEXT;
    ALTER TABLE jobs ADD COLUMN env TEXT;
    DROP TRIGGER job_counts_delete;
    DROP TRIGGER job_counts_update;
    CREATE TABLE queue_counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO queue_counts (k, n) SELECT state || ' default', n FROM job_counts;
    DROP TABLE job_counts;
    CREATE TRIGGER queue_counts_delete AFTER DELETE ON jobs BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE k = OLD.state || ' ' || OLD.queue;
    END;
    CREATE TRIGGER queue_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state IS NOT NEW.state BEGIN
        UPDATE queue_counts SET n = n - 1 WHERE k = OLD.state || ' ' || NEW.queue;
        UPDATE queue_counts SET n = n + 1 WHERE k = NEW.state || ' ' || NEW.queue;
    END;
    CREATE TABLE queues (name TEXT PRIMARY KEY, max_running INTEGER NOT NULL DEFAULT 0,
                         paused INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    """,
}


def statements(script: str) -> list[str]:
    """Split a script into statements; a trigger body's semicolons stay inside its statement."""
    out, buf = [], ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


# PostgreSQL's, unqualified: they run with search_path set to the queue's schema.
POSTGRES_SCHEMA_VERSION = 3

POSTGRES_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE jobs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        command TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_retries BIGINT NOT NULL,
        priority BIGINT NOT NULL DEFAULT 0,
        run_at DOUBLE PRECISION NOT NULL,
        timeout DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        exit_code INTEGER,
        last_error TEXT,
        worker TEXT,
        lease_until DOUBLE PRECISION,
        cancel_requested BOOLEAN NOT NULL DEFAULT false
    );
    CREATE INDEX jobs_state_seq ON jobs (state, seq);
    CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
    CREATE INDEX jobs_state_started ON jobs (state, started_at);
    CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
    CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'processing';
    CREATE INDEX jobs_worker ON jobs (worker) WHERE state = 'processing';
    CREATE TABLE runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        exit_code INTEGER,
        error TEXT,
        stdout BYTEA NOT NULL DEFAULT '',
        stderr BYTEA NOT NULL DEFAULT ''
    );
    CREATE INDEX runs_job ON runs (job_id, id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid BIGINT NOT NULL,
        job_id TEXT,
        started_at DOUBLE PRECISION NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL,
        stop_requested BOOLEAN NOT NULL DEFAULT false
    );
    """,
    # As SQLite's schema 6: bytes of each stream written before the kept tail (output-limit).
    2: """
    ALTER TABLE runs ADD COLUMN stdout_dropped BIGINT NOT NULL DEFAULT 0,
                         ADD COLUMN stderr_dropped BIGINT NOT NULL DEFAULT 0;
    """,
    # As SQLite's schema 7 (queues, cwd, env); counts per queue come from jobs itself here.
    3: """
    ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default', ADD COLUMN cwd TEXT, ADD COLUMN env TEXT;
    CREATE TABLE queues (name TEXT PRIMARY KEY, max_running BIGINT NOT NULL DEFAULT 0,
                         paused BOOLEAN NOT NULL DEFAULT false);
    """,
}
