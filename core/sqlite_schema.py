"""The SQLite schema: its migrations, from version 1 up, each run once in one transaction."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 6

MIGRATIONS: dict[int, str] = {
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
    # Counts per state, so `status` and the app's titles cost the same at a million jobs as at ten
    # (a GROUP BY over the state index takes ~150 ms at 1M). Writers serialise on SQLite's one write
    # lock anyway, so the one-page counter adds no contention. State changes and deletes are counted
    # by triggers; inserts by insert_jobs, one UPDATE per batch (a per-row insert trigger doubled the
    # cost of `enqueue -`): anything else that inserts into jobs must add to job_counts itself.
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
    # Fewer index writes per job. (state, started_at) and (state, finished_at) took a delete and an
    # insert on every state change, four per job; only processing jobs are listed by start time, and
    # only finished ones (completed, dead: finished_at set) by finish time, so partial indexes hold
    # each row only while it can be listed that way. Queries name the partial condition to use them.
    3: """
    DROP INDEX jobs_state_started;
    DROP INDEX jobs_state_finished;
    CREATE INDEX jobs_running ON jobs(started_at) WHERE state = 'processing';
    CREATE INDEX jobs_finished ON jobs(state, finished_at) WHERE finished_at IS NOT NULL;
    """,
    # Less written per job (claim + finish is one transaction; each page it touches is a WAL frame,
    # 11.5 per job before this, 10.5 after). jobs_lease took an insert on every claim, a delete on
    # every finish and a move on every heartbeat, to find expired leases among the processing jobs,
    # which are few (one per live worker, plus those of crashed ones): they are now scanned through
    # jobs_running.
    4: """
    DROP INDEX jobs_lease;
    """,
    # Two WAL frames less per job (10.9 to 8.9). AUTOINCREMENT made every run insert also update
    # sqlite_sequence; run ids only order a job's attempts, which a plain rowid (max + 1) does as
    # well. And jobs_state_seq no longer holds processing jobs, which took an insert at every claim
    # and a delete at every finish: they are few and listed through jobs_running. Queries that
    # use it name the partial condition (`state != 'processing'`), as SQLite requires.
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
    6: """
    ALTER TABLE runs ADD COLUMN stdout_dropped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN stderr_dropped INTEGER NOT NULL DEFAULT 0;
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
