"""SQLite's schema, as its migrations."""

from __future__ import annotations

from . import DEAD_WALK

SQLITE_SCHEMA_VERSION = 15

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
    # The finished jobs no longer counted in their state (pruned, or dead ones retried): the
    # metrics' finished totals are the jobs in that state plus these, so they never go down.
    7: """
    CREATE TABLE finished_gone (queue TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
                                PRIMARY KEY (queue, state)) WITHOUT ROWID;
    """,
    # Recurring jobs (core/schedules.py), and the schedule that made a job.
    8: """
    CREATE TABLE schedules (name TEXT PRIMARY KEY, cron TEXT NOT NULL, tz TEXT NOT NULL, job TEXT NOT NULL,
                            paused BOOLEAN NOT NULL DEFAULT false, next_due REAL NOT NULL, last_due REAL,
                            last_job TEXT, created_at REAL NOT NULL);
    ALTER TABLE jobs ADD COLUMN schedule TEXT;
    """,
    # unique_key: at most one unfinished job per key, enforced by the index (jobs without a key are
    # not in it, so their claims and finishes write nothing more).
    9: """
    ALTER TABLE jobs ADD COLUMN unique_key TEXT;
    CREATE UNIQUE INDEX jobs_unique ON jobs(unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');
    """,
    # Dependencies (`after`): deps lists them; waiting counts a job's dependencies not completed yet,
    # and a waiting job is left out of jobs_ready, so claims never walk past it. The writes that
    # finish a job keep the counts, through a trigger that runs only for a job that has dependents.
    10: """
    ALTER TABLE jobs ADD COLUMN after_ids TEXT;
    ALTER TABLE jobs ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN has_dependents BOOLEAN NOT NULL DEFAULT false;
    CREATE TABLE deps (after_id TEXT NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY (after_id, job_id)) WITHOUT ROWID;
    DROP INDEX jobs_ready;
    CREATE INDEX jobs_ready ON jobs(priority DESC, run_at, seq) WHERE state IN ('pending', 'failed') AND waiting = 0;
    CREATE INDEX jobs_waiting ON jobs(seq) WHERE waiting > 0;
    CREATE TRIGGER deps_completed AFTER UPDATE OF state ON jobs
        WHEN NEW.has_dependents AND NEW.state = 'completed' AND OLD.state IS NOT 'completed' BEGIN
        UPDATE jobs SET waiting = waiting - 1 WHERE id IN (SELECT job_id FROM deps WHERE after_id = NEW.id);
    END;
    CREATE TRIGGER deps_dead AFTER UPDATE OF state ON jobs
        WHEN NEW.has_dependents AND NEW.state = 'dead' AND OLD.state IS NOT 'dead' BEGIN
        UPDATE jobs SET state = 'dead', last_error = 'dependency ' || NEW.id || ' is dead',
                        finished_at = NEW.finished_at, updated_at = NEW.updated_at
            WHERE id IN (SELECT job_id FROM deps WHERE after_id = NEW.id) AND state = 'pending';
    END;
    """,
    # Queues (issue 13): a job's queue, working directory and variables (JSON text); the queues
    # with a limit or paused; counts per state and queue in place of job_counts. Their key is one
    # text, "STATE QUEUE": SQLite compares a one-column key on a fast path, and the triggers run
    # at every claim and finish (a (queue, state) key cost 6% more instructions per job).
    11: """
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
    # Live output (core/live.py): a running attempt's output so far, one row per job, written by its
    # worker at most once a second and deleted once the attempt is recorded. Bytes written in all per
    # stream beside the kept tails, so a reader knows what it missed. Blobs last, as in runs.
    12: """
    CREATE TABLE live (
        job_id TEXT PRIMARY KEY,
        attempt INTEGER NOT NULL,
        worker TEXT NOT NULL,
        updated_at REAL NOT NULL,
        stdout_total INTEGER NOT NULL,
        stderr_total INTEGER NOT NULL,
        stderr BLOB NOT NULL,
        stdout BLOB NOT NULL
    );
    """,
    # Ready jobs by queue: one queue's next job is one seek, however many other queues' jobs come
    # before it in jobs_ready (a worker serving one queue, each queue's latency in the metrics).
    13: """
    CREATE INDEX jobs_ready_queue ON jobs(queue, priority DESC, run_at, seq) WHERE state IN ('pending', 'failed') AND waiting = 0;
    """,
    # A death kills every job after it in one statement (DEAD_WALK), not one trigger level per link:
    # SQLite stops at 1,000 nested triggers, and the write recording the death failed for ever. The
    # walk runs from the first row put into dead_cascade; deaths it makes that fire deps_dead again
    # (only under PRAGMA recursive_triggers, off in our connections) add rows and walk no further.
    # deps_dead itself stays one INSERT: its program runs at every claim and finish, and a larger one
    # cost 8,000 instructions a job (bench/README.md, "Session 7").
    14: f"""
    CREATE TABLE dead_cascade (id TEXT NOT NULL, finished_at REAL, updated_at REAL);
    DROP TRIGGER deps_dead;
    CREATE TRIGGER deps_dead AFTER UPDATE OF state ON jobs
        WHEN NEW.has_dependents AND NEW.state = 'dead' AND OLD.state IS NOT 'dead' BEGIN
        INSERT INTO dead_cascade (id, finished_at, updated_at) VALUES (NEW.id, NEW.finished_at, NEW.updated_at);
    END;
    CREATE TRIGGER dead_cascade_walk AFTER INSERT ON dead_cascade
        WHEN (SELECT count(*) FROM dead_cascade) = 1 BEGIN
        {DEAD_WALK.format(first="max(after_id = NEW.id)")};
        DELETE FROM dead_cascade;
    END;
    """,
    # Hooks owed for transitions recorded outside a worker (a cancel of a waiting job): a worker's
    # heartbeat takes and runs them, so a hook never runs in the process of whoever cancels.
    15: """
    CREATE TABLE hooks_due (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, state TEXT NOT NULL);
    """,
}
