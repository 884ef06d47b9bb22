"""PostgreSQL's schema, as its migrations. Tables are named unqualified: the migrations run with
search_path set to the queue's schema."""

from __future__ import annotations

from . import DEAD_WALK

POSTGRES_SCHEMA_VERSION = 13

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
    # SQLite's indexes (its schemas 3-5): each holds a row only while it can be listed that way, so
    # a claim or a finish writes fewer entries. The few processing jobs are found through jobs_running.
    3: """
    DROP INDEX jobs_state_started;
    DROP INDEX jobs_state_finished;
    DROP INDEX jobs_lease;
    DROP INDEX jobs_worker;
    DROP INDEX jobs_state_seq;
    CREATE INDEX jobs_running ON jobs (started_at) WHERE state = 'processing';
    CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX jobs_state_seq ON jobs (state, seq) WHERE state <> 'processing';
    """,
    # As SQLite's schema 7.
    4: """
    CREATE TABLE finished_gone (queue TEXT NOT NULL, state TEXT NOT NULL, n BIGINT NOT NULL,
                                PRIMARY KEY (queue, state));
    """,
    # As SQLite's schema 8.
    5: """
    CREATE TABLE schedules (name TEXT PRIMARY KEY, cron TEXT NOT NULL, tz TEXT NOT NULL, job TEXT NOT NULL,
                            paused BOOLEAN NOT NULL DEFAULT false, next_due DOUBLE PRECISION NOT NULL,
                            last_due DOUBLE PRECISION, last_job TEXT, created_at DOUBLE PRECISION NOT NULL);
    ALTER TABLE jobs ADD COLUMN schedule TEXT;
    """,
    # As SQLite's schema 9.
    6: """
    ALTER TABLE jobs ADD COLUMN unique_key TEXT;
    CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');
    """,
    # As SQLite's schema 10; the trigger's function runs only for a job that has dependents.
    7: """
    ALTER TABLE jobs ADD COLUMN after_ids TEXT,
                     ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0,
                     ADD COLUMN has_dependents BOOLEAN NOT NULL DEFAULT false;
    CREATE TABLE deps (after_id TEXT NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY (after_id, job_id));
    DROP INDEX jobs_ready;
    CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed') AND waiting = 0;
    CREATE INDEX jobs_waiting ON jobs (seq) WHERE waiting > 0;
    CREATE FUNCTION deps_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.state = 'completed' THEN
            UPDATE jobs SET waiting = waiting - 1 WHERE id IN (SELECT job_id FROM deps WHERE after_id = NEW.id);
        ELSE
            UPDATE jobs SET state = 'dead', last_error = 'dependency ' || NEW.id || ' is dead',
                            finished_at = NEW.finished_at, updated_at = NEW.updated_at
                WHERE id IN (SELECT job_id FROM deps WHERE after_id = NEW.id) AND state = 'pending';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER deps_follow AFTER UPDATE OF state ON jobs FOR EACH ROW
        WHEN (NEW.has_dependents AND NEW.state IN ('completed', 'dead') AND OLD.state IS DISTINCT FROM NEW.state)
        EXECUTE FUNCTION deps_follow();
    """,
    # As SQLite's schema 11 (queues, cwd, env); counts per queue come from jobs itself here.
    8: """
    ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default', ADD COLUMN cwd TEXT, ADD COLUMN env TEXT;
    CREATE TABLE queues (name TEXT PRIMARY KEY, max_running BIGINT NOT NULL DEFAULT 0,
                         paused BOOLEAN NOT NULL DEFAULT false);
    """,
    # As SQLite's schema 12: live output of running attempts (core/live.py).
    9: """
    CREATE TABLE live (
        job_id TEXT PRIMARY KEY,
        attempt INTEGER NOT NULL,
        worker TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        stdout_total BIGINT NOT NULL,
        stderr_total BIGINT NOT NULL,
        stderr BYTEA NOT NULL,
        stdout BYTEA NOT NULL
    );
    """,
    # As SQLite's schema 13: ready jobs by queue.
    10: """
    CREATE INDEX jobs_ready_queue ON jobs (queue, priority DESC, run_at, seq) WHERE state IN ('pending', 'failed') AND waiting = 0;
    """,
    # As SQLite's schema 14: a death kills every job after it in one statement; the deaths that
    # statement makes fire this function one level down, and walk no further (the stack limit
    # stopped the nested walk at a few hundred links).
    11: f"""
    CREATE OR REPLACE FUNCTION deps_follow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.state = 'completed' THEN
            UPDATE jobs SET waiting = waiting - 1 WHERE id IN (SELECT job_id FROM deps WHERE after_id = NEW.id);
        ELSIF pg_trigger_depth() = 1 THEN
            {DEAD_WALK.format(first="bool_or(after_id = NEW.id)")};
        END IF;
        RETURN NULL;
    END $$;
    """,
    # Counts per queue and state, as SQLite's queue_counts, read in a few rows instead of a GROUP BY
    # over every job. Each change adds a row of +n/-n (job_counts_*) rather than updating one counter
    # row per key, which every claim of a queue would wait on; fold_job_counts(), called by each
    # pool's heartbeat, sums them up once there are many. The triggers come before the first sum, so
    # a writer that commits meanwhile waits for them (the lock on jobs) and is counted by them. The
    # functions keep the queue's schema as their search_path: a session that writes schema.jobs with
    # another search_path (psql, a script) would otherwise fail to find job_counts, or deps.
    12: """
    CREATE TABLE job_counts (queue TEXT NOT NULL, state TEXT NOT NULL, n BIGINT NOT NULL);
    -- the rows a statement inserted (+) or deleted (-), as one transition table of either trigger
    CREATE FUNCTION job_counts_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {schema}.job_counts (queue, state, n)
            SELECT queue, state, CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
            FROM changed GROUP BY queue, state;
        RETURN NULL;
    END $$;
    CREATE TRIGGER job_counts_added AFTER INSERT ON jobs REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION job_counts_rows();
    CREATE TRIGGER job_counts_gone AFTER DELETE ON jobs REFERENCING OLD TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION job_counts_rows();
    CREATE FUNCTION job_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {schema}.job_counts (queue, state, n) VALUES (NEW.queue, OLD.state, -1), (NEW.queue, NEW.state, 1);
        RETURN NULL;
    END $$;
    CREATE TRIGGER job_counts_moved AFTER UPDATE OF state ON jobs FOR EACH ROW
        WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_counts_moved();
    INSERT INTO job_counts (queue, state, n) SELECT queue, state, count(*) FROM jobs GROUP BY queue, state;
    ALTER FUNCTION deps_follow() SET search_path FROM CURRENT;
    -- One pool at a time sums the rows up, and only once there are more than a few hundred.
    CREATE FUNCTION fold_job_counts() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT count(*) FROM (SELECT 1 FROM {schema}.job_counts LIMIT 501) AS head) > 500
           AND pg_try_advisory_xact_lock(hashtext(current_schema() || '.job_counts')) THEN
            WITH gone AS (DELETE FROM {schema}.job_counts RETURNING queue, state, n)
            INSERT INTO {schema}.job_counts (queue, state, n)
                SELECT queue, state, sum(n) FROM gone GROUP BY queue, state HAVING sum(n) <> 0;
        END IF;
    END $$;
    """,
    # Hooks owed for transitions recorded outside a worker, as SQLite's schema 15.
    13: """
    CREATE TABLE hooks_due (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id TEXT NOT NULL,
                            state TEXT NOT NULL);
    """,
}
