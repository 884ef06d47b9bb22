"""PostgreSQL storage: the same guarded reads and writes as SQLiteStore, for workers on many machines.

Loaded only for postgresql:// URLs (see queue.open_store), so the SQLite path never imports psycopg.

- Location: a libpq URL, plus one option of ours, `?schema=NAME` (default `queuectl`): the schema
  that holds the queue's tables, so a queue can live in an existing database next to other data, and
  one database can hold several queues. It is stripped before connecting.
- Connections: a small lock-free pool of autocommit connections (a call takes an idle one, or opens
  one, and gives it back). Single statements run in autocommit; multi-statement writes in one short
  transaction. A connection that broke (server restart, network) is thrown away with every idle one,
  so the next call reconnects; a read that failed on a reused connection is retried once at once.
  A write is never retried blindly when its fate is unknown: the caller sees a StorageError.
- Claim: one UPDATE over a `FOR UPDATE SKIP LOCKED` sub-select, so workers never wait on each other.
- Wake-ups: NOTIFY on a channel named after the schema; a listener LISTENs on its own connection.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from typing import Any, Callable, Sequence, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq

from .errors import IdTaken, StorageError
from .location import parse_postgres_url, scrub
from .models import Job, JobSpec, WorkerInfo
from .store import (JOB_COLUMNS, Ended, Outcome, Store, job_from_row, job_with_runs, like_pattern, records_run,
                    run_columns)
from .wake import Listener

log = logging.getLogger("queuectl.postgres")

T = TypeVar("T")

SCHEMA_VERSION = 2
DEFAULT_SCHEMA = "queuectl"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")  # short enough for the channel name (63 bytes)
CONNECT_DEFAULTS = {"connect_timeout": "10", "application_name": "queuectl"}
MAX_IDLE = 16  # idle connections kept per store; more are closed when given back

# {s} is the quoted schema name.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE {s}.jobs (
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
    CREATE INDEX jobs_state_seq ON {s}.jobs (state, seq);
    CREATE INDEX jobs_state_finished ON {s}.jobs (state, finished_at);
    CREATE INDEX jobs_state_started ON {s}.jobs (state, started_at);
    CREATE INDEX jobs_ready ON {s}.jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
    CREATE INDEX jobs_lease ON {s}.jobs (lease_until) WHERE state = 'processing';
    CREATE INDEX jobs_worker ON {s}.jobs (worker) WHERE state = 'processing';
    CREATE TABLE {s}.runs (
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
    CREATE INDEX runs_job ON {s}.runs (job_id, id);
    CREATE TABLE {s}.settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE {s}.workers (
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
    ALTER TABLE {s}.runs ADD COLUMN stdout_dropped BIGINT NOT NULL DEFAULT 0,
                         ADD COLUMN stderr_dropped BIGINT NOT NULL DEFAULT 0;
    """,
}

# As SQLite sorts: NULLs last when descending.
ORDERS = {
    "created": "seq DESC",
    "claim": "priority DESC, run_at, seq",
    "finished": "finished_at DESC NULLS LAST, seq DESC",
    "started": "started_at DESC NULLS LAST, seq DESC",
}


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


SHORT_SECRET = 4  # a password shorter than this is not cut out of a message: the message is dropped


def scrubbed(exc: BaseException, hidden: Sequence[str]) -> str:
    """A driver error as one line without any password text. libpq never sees the password in a URL
    (it is passed on its own), so its messages should not hold it; if one does all the same, it is
    cut out, or, for a password so short that cutting it out would spell it, the message is dropped."""
    text = one_line(exc)
    if any(len(h) < SHORT_SECRET and h in text for h in hidden):
        return f"{type(exc).__name__} (the message is not shown: it may hold the password)"
    return scrub(text, hidden=list(hidden))


def parse_location(url: str) -> tuple[str, str | None, str, str, tuple[str, ...]]:
    """Split a postgresql:// URL into (libpq URL without the password, the password, the schema,
    the location to show, the password texts to scrub from messages). See core/location.py."""
    parsed = parse_postgres_url(url, CONNECT_DEFAULTS)
    schema = DEFAULT_SCHEMA
    for key, value in parsed.query:
        if key == "schema":
            schema = urllib.parse.unquote(value)
    if not SCHEMA_NAME.fullmatch(schema):
        raise StorageError(
            f"invalid schema name {scrub(schema, hidden=list(parsed.hidden))!r} in the URL: "
            "use lower-case letters, digits and _ (at most 48)"
        )
    return parsed.url, parsed.password, schema, parsed.shown, parsed.hidden


def _quote(name: str) -> str:
    return '"' + name + '"'  # names are checked against SCHEMA_NAME: nothing to escape


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        self._url = url
        self._conninfo, self._password, self.schema, self.location, self._hidden = parse_location(url)
        self.channel = f"queuectl:{self.schema}"
        self._s = _quote(self.schema)
        # Idle connections; list.pop/append are atomic: a lock-free pool. A connection is used by one
        # thread from _take to _give_back: close() closes the idle ones, _give_back those in use then.
        self._idle: list[psycopg.Connection] = []
        self._closed = False
        self._migrate()

    @property
    def url(self) -> str:
        return self._url

    def message(self, exc: BaseException) -> str:
        """A driver error as one line, without the password."""
        return scrubbed(exc, self._hidden)

    # connection handling ---------------------------------------------------------------------------
    def connect(self) -> psycopg.Connection:
        """A new autocommit connection; StorageError (one line) if the server cannot be reached.
        The password goes to libpq on its own, never in the URL that libpq parses and may quote."""
        extra = {} if self._password is None else {"password": self._password}
        try:
            return psycopg.connect(self._conninfo, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {self.location}: {self.message(exc)}") from None

    def _take(self) -> tuple[psycopg.Connection, bool]:
        if self._closed:
            raise StorageError(f"{self.location}: the queue is closed")
        try:
            return self._idle.pop(), True
        except IndexError:
            return self.connect(), False

    def _give_back(self, conn: psycopg.Connection) -> None:
        if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE or len(self._idle) >= MAX_IDLE:
            self._discard(conn)
        else:
            self._idle.append(conn)
            if self._closed:  # closed while we used it: close() left it to us
                self._drop_idle()

    @staticmethod
    def _discard(conn: psycopg.Connection) -> None:
        try:
            conn.close()
        except Exception:
            pass

    def _drop_idle(self) -> None:
        """After a lost connection the idle ones most likely died with it: reconnect afresh."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return
            self._discard(conn)

    @staticmethod
    def _lost(conn: psycopg.Connection, exc: psycopg.Error) -> bool:
        return conn.closed or conn.broken or isinstance(
            exc, (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)
        )

    def _run(self, fn: Callable[[psycopg.Connection], T], read: bool = False) -> T:
        """Run fn(conn) on a pooled connection; turn driver errors into one-line StorageErrors.

        Retried here: a statement the server rolled back (deadlock, serialization failure), and a
        read whose reused connection turned out to be dead. A unique violation passes through."""
        tries = 0
        while True:
            tries += 1
            conn, reused = self._take()
            try:
                result = fn(conn)
            except pg_errors.UniqueViolation:
                self._give_back(conn)
                raise
            except psycopg.Error as exc:
                if self._lost(conn, exc):
                    self._discard(conn)
                    self._drop_idle()
                    if read and reused and tries == 1:
                        continue
                    raise StorageError(f"lost the connection to {self.location}: {self.message(exc)}") from None
                self._give_back(conn)
                if isinstance(exc, pg_errors.TransactionRollback) and tries < 3:
                    continue  # rolled back as a whole: safe to run again
                raise StorageError(f"database error on {self.location}: {self.message(exc)}") from None
            except BaseException:
                self._discard(conn)  # interrupted mid-statement: its state is unknown
                raise
            self._give_back(conn)
            return result

    def _read(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return self._run(fn, read=True)

    def _write(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run fn(conn) in one transaction."""

        def txn(conn: psycopg.Connection) -> T:
            with conn.transaction():
                return fn(conn)

        return self._run(txn)

    def _migrate(self) -> None:
        s = self._s

        def version(conn: psycopg.Connection) -> int:
            # A plain query on the catalog, not to_regclass(): that reads a cache which may not yet
            # show a table that another session created while we waited for the lock.
            found = conn.execute(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = 'meta'", (self.schema,)).fetchone()
            if found is None:
                return 0
            row = conn.execute(f"SELECT value FROM {s}.meta WHERE key = 'schema_version'").fetchone()
            return 0 if row is None else int(row[0])

        def check(found: int) -> int:
            if found > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.location} has schema version {found}, newer than this queuectl ({SCHEMA_VERSION}): upgrade it"
                )
            return found

        def migrate(conn: psycopg.Connection) -> None:
            # One process migrates; the others wait here, then find the work done.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.channel,))
            current = check(version(conn))
            if current == SCHEMA_VERSION:
                return
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone() is None:
                conn.execute(f"CREATE SCHEMA {s}")
            if current == 0:
                conn.execute(f"CREATE TABLE IF NOT EXISTS {s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for target in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].format(s=s).split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {s}.meta (key, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(target),),
                )

        if check(self._read(version)) != SCHEMA_VERSION:
            self._write(migrate)

    def close(self) -> None:
        """Close the idle connections now, and each one in use as its thread gives it back: a
        connection is never closed under a statement another thread runs on it."""
        self._closed = True
        self._drop_idle()

    # jobs ------------------------------------------------------------------------------------------
    def insert_jobs(self, specs: Sequence[JobSpec], ids: Sequence[str], now: float) -> None:
        rows = [
            (job_id, s.command, "pending", s.max_retries, s.priority, s.run_at, s.timeout, now, now)
            for s, job_id in zip(specs, ids)
        ]
        sql = (f"COPY {self._s}.jobs (id, command, state, max_retries, priority, run_at, timeout, created_at,"
               " updated_at) FROM STDIN")

        def insert(conn: psycopg.Connection) -> None:
            with conn.cursor() as cur, cur.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

        try:
            self._write(insert)
        except pg_errors.UniqueViolation:
            raise IdTaken(self._first_taken(ids)) from None

    def _first_taken(self, ids: Sequence[str]) -> str:
        sql = f"SELECT id FROM {self._s}.jobs WHERE id = ANY(%s)"
        taken = self._read(lambda c: {r[0] for r in c.execute(sql, (list(ids),))})
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen or job_id in taken:
                return job_id
            seen.add(job_id)
        return ids[0] if ids else "?"

    def get_job(self, job_id: str, with_runs: bool = False, tail: int | None = None) -> Job | None:
        s = self._s
        n = None if tail is None else max(1, int(tail))
        columns = run_columns(None if n is None else f"substring({{col}} from greatest(length({{col}}) - {n - 1}, 1))")

        def get(conn: psycopg.Connection) -> Job | None:
            row = conn.execute(f"SELECT {JOB_COLUMNS} FROM {s}.jobs WHERE id = %s", (job_id,)).fetchone()
            if row is None:
                return None
            if not with_runs:
                return job_from_row(row)
            sql = f"SELECT {columns} FROM {s}.runs WHERE job_id = %s ORDER BY id"
            return job_with_runs(row, conn.execute(sql, (job_id,)))

        return self._read(get)

    @staticmethod
    def _where(states: Sequence[str] | None, search: str | None) -> tuple[str, list]:
        clauses, params = [], []
        if states:
            clauses.append("state = ANY(%s)")
            params.append(list(states))
        if search:
            # ILIKE: SQLite's LIKE ignores case too.
            clauses.append("(id ILIKE %s ESCAPE '\\' OR command ILIKE %s ESCAPE '\\')")
            params.extend([like_pattern(search)] * 2)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_jobs(
        self, states: Sequence[str] | None, limit: int, search: str | None = None, order: str = "created"
    ) -> list[Job]:
        where, params = self._where(states, search)
        sql = f"SELECT {JOB_COLUMNS} FROM {self._s}.jobs{where} ORDER BY {ORDERS[order]} LIMIT %s"
        return self._read(lambda c: [job_from_row(r) for r in c.execute(sql, (*params, limit))])

    def count_jobs(self, states: Sequence[str] | None = None, search: str | None = None) -> int:
        where, params = self._where(states, search)
        return self._read(lambda c: c.execute(f"SELECT count(*) FROM {self._s}.jobs{where}", params).fetchone()[0])

    def counts(self) -> dict[str, int]:
        sql = f"SELECT state, count(*) FROM {self._s}.jobs GROUP BY state"
        return self._read(lambda c: dict(c.execute(sql).fetchall()))

    def completed_since(self, since: float) -> int:
        sql = f"SELECT count(*) FROM {self._s}.jobs WHERE state = 'completed' AND finished_at >= %s"
        return self._read(lambda c: c.execute(sql, (since,)).fetchone()[0])

    def next_due(self) -> float | None:
        sql = f"SELECT min(run_at) FROM {self._s}.jobs WHERE state IN ('pending', 'failed')"
        return self._read(lambda c: c.execute(sql).fetchone()[0])

    def _claim_sql(self) -> str:
        s = self._s
        return f"""
            UPDATE {s}.jobs SET state = 'processing', attempts = attempts + 1, worker = %s, started_at = %s,
                   updated_at = %s, lease_until = %s, finished_at = NULL, exit_code = NULL, cancel_requested = false
            WHERE seq = (SELECT seq FROM {s}.jobs WHERE state IN ('pending', 'failed') AND run_at <= %s
                         ORDER BY priority DESC, run_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
              AND state IN ('pending', 'failed')
            RETURNING {JOB_COLUMNS}"""

    def claim(self, worker_id: str, now: float, lease_until: float) -> Job | None:
        sql = self._claim_sql()
        row = self._run(lambda c: c.execute(sql, (worker_id, now, now, lease_until, now)).fetchone())
        return None if row is None else job_from_row(row)

    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (),
    ) -> tuple[list[bool], list[Job]]:
        """As SQLiteStore: the guarded finishes (with their run rows), the releases, then the claims,
        in one transaction; the claims happen whether or not the finishes were still ours to record.
        Separate statements, not one with CTEs: a claim must see the finishes and the claims before it
        (all CTEs of a statement share one snapshot), as on SQLite. They go out in one pipeline:
        BEGIN, the statements and COMMIT in one network round trip. A failure is a StorageError like
        any write's: the caller cannot know if it committed."""
        finishes = [self._finish_sql(e.job_id, worker_id, e.attempt, e.outcome, None) for e in ended]
        claim_sql, release_sql = self._claim_sql(), self._release_sql()
        claim_params = (worker_id, now, now, lease_until, now)

        def all_in_one(conn: psycopg.Connection) -> tuple[list[bool], list[Job]]:
            # BEGIN and COMMIT by hand: conn.transaction() would wait for the BEGIN (a Sync). Sent
            # at once, with one Sync at the end of the pipeline. On an error the server skips the
            # rest up to that Sync and the transaction is left aborted: the connection is then not
            # idle, so _run discards it (closing it rolls back).
            with conn.pipeline():
                conn.execute("BEGIN")
                finished = [conn.execute(sql, params) for sql, params in finishes]
                for job_id, attempt in release:
                    conn.execute(release_sql, (now, now, job_id, worker_id, attempt))
                claimed = [conn.execute(claim_sql, claim_params) for _ in range(claim)]
                conn.execute("COMMIT")
            rows = [cur.fetchone() for cur in claimed]
            return [cur.rowcount == 1 for cur in finished], [job_from_row(row) for row in rows if row is not None]

        return self._run(all_in_one)

    def renew_leases(self, worker_ids: Sequence[str], now: float, lease_until: float) -> None:
        if not worker_ids:
            return
        s, ids = self._s, list(worker_ids)

        def renew(conn: psycopg.Connection) -> None:
            conn.execute(
                f"UPDATE {s}.jobs SET lease_until = %s WHERE state = 'processing' AND worker = ANY(%s)",
                (lease_until, ids),
            )
            conn.execute(f"UPDATE {s}.workers SET heartbeat_at = %s WHERE id = ANY(%s)", (now, ids))

        self._write(renew)

    def finish(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, lease_seen: float | None = None
    ) -> bool:
        sql, params = self._finish_sql(job_id, worker_id, attempt, outcome, lease_seen)
        return self._run(lambda c: c.execute(sql, params).rowcount == 1)

    def _finish_sql(self, job_id: str, worker_id: str, attempt: int, outcome: Outcome,
                    lease_seen: float | None) -> tuple[str, list[Any]]:
        """One statement: the guarded update of the job and, only if it matched, its run row (none
        for a quiet success: see records_run). Its row count is 1 if this worker still held this
        attempt, else 0 (nothing written)."""
        s = self._s
        guard = "id = %s AND worker = %s AND attempts = %s AND state = 'processing'"
        params: list[Any] = [job_id, worker_id, attempt]
        if lease_seen is not None:
            guard += " AND lease_until <= %s"
            params.append(lease_seen)
        o = outcome
        update = f"""UPDATE {s}.jobs SET state = %s, run_at = coalesce(%s, run_at), exit_code = %s,
                       last_error = %s, started_at = coalesce(%s::float8, started_at), finished_at = %s,
                       updated_at = %s, lease_until = NULL, cancel_requested = false
                WHERE {guard}"""
        update_params = [o.state, o.run_at, o.exit_code, o.error, o.started_at,
                         o.finished_at if o.state in ("completed", "dead") else None, o.finished_at, *params]
        if not records_run(o):
            return update, update_params
        sql = f"""WITH done AS ({update} RETURNING id)
            INSERT INTO {s}.runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr,
                                  stdout_dropped, stderr_dropped)
            SELECT id, %s::integer, %s::text, %s::float8, %s::float8, %s::integer, %s::text, %s::bytea, %s::bytea,
                   %s::bigint, %s::bigint
            FROM done"""
        return sql, [*update_params, attempt, worker_id, o.started_at, o.finished_at, o.exit_code, o.error,
                     bytes(o.stdout), bytes(o.stderr), o.stdout_dropped, o.stderr_dropped]

    def _release_sql(self) -> str:
        return f"""UPDATE {self._s}.jobs SET state = CASE WHEN cancel_requested THEN 'dead' WHEN attempts > 1
                                                      THEN 'failed' ELSE 'pending' END,
                          last_error = CASE WHEN cancel_requested THEN 'cancelled' ELSE last_error END,
                          finished_at = CASE WHEN cancel_requested THEN %s::double precision END,
                          attempts = attempts - 1, updated_at = %s, worker = NULL, started_at = NULL,
                          lease_until = NULL, cancel_requested = false
                   WHERE id = %s AND worker = %s AND attempts = %s AND state = 'processing'"""

    def release(self, job_id: str, worker_id: str, attempt: int, now: float) -> bool:
        sql = self._release_sql()
        return self._run(lambda c: c.execute(sql, (now, now, job_id, worker_id, attempt)).rowcount == 1)

    def expired(self, now: float) -> list[Job]:
        sql = f"SELECT {JOB_COLUMNS} FROM {self._s}.jobs WHERE state = 'processing' AND lease_until < %s"
        return self._read(lambda c: [job_from_row(r) for r in c.execute(sql, (now,))])

    def requeue_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        sql = f"""UPDATE {self._s}.jobs SET state = 'pending', attempts = 0, run_at = %s, updated_at = %s,
                         finished_at = NULL, worker = NULL, lease_until = NULL WHERE state = 'dead'"""

        def requeue(conn: psycopg.Connection) -> list[str]:
            if job_ids is None:
                return [r[0] for r in conn.execute(sql + " RETURNING id", (now, now))]
            moved = {r[0] for r in conn.execute(sql + " AND id = ANY(%s) RETURNING id", (now, now, list(job_ids)))}
            return [job_id for job_id in dict.fromkeys(job_ids) if job_id in moved]

        return self._write(requeue)

    def cancel_waiting(self, job_id: str, now: float) -> bool:
        sql = f"""UPDATE {self._s}.jobs SET state = 'dead', last_error = 'cancelled', finished_at = %s, updated_at = %s
                  WHERE id = %s AND state IN ('pending', 'failed')"""
        return self._run(lambda c: c.execute(sql, (now, now, job_id)).rowcount == 1)

    def request_cancel(self, job_id: str) -> bool:
        sql = f"UPDATE {self._s}.jobs SET cancel_requested = true WHERE id = %s AND state = 'processing'"
        return self._run(lambda c: c.execute(sql, (job_id,)).rowcount == 1)

    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        sql = f"SELECT id FROM {self._s}.jobs WHERE cancel_requested AND id = ANY(%s)"
        return self._read(lambda c: {r[0] for r in c.execute(sql, (list(job_ids),))})

    def prune(self, states: Sequence[str], finished_before: float) -> int:
        s = self._s

        def prune(conn: psycopg.Connection) -> int:
            ids = [r[0] for r in conn.execute(
                f"DELETE FROM {s}.jobs WHERE state = ANY(%s) AND finished_at < %s RETURNING id",
                (list(states), finished_before),
            )]
            if ids:
                conn.execute(f"DELETE FROM {s}.runs WHERE job_id = ANY(%s)", (ids,))
            return len(ids)

        return self._write(prune)

    # settings --------------------------------------------------------------------------------------
    def read_settings(self) -> dict[str, str]:
        return self._read(lambda c: dict(c.execute(f"SELECT key, value FROM {self._s}.settings").fetchall()))

    def write_setting(self, key: str, value: str) -> None:
        sql = (f"INSERT INTO {self._s}.settings (key, value) VALUES (%s, %s)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        self._run(lambda c: c.execute(sql, (key, value)))

    # workers ---------------------------------------------------------------------------------------
    def register_worker(self, info: WorkerInfo) -> None:
        sql = f"""INSERT INTO {self._s}.workers (id, host, pid, job_id, started_at, heartbeat_at, stop_requested)
                  VALUES (%s, %s, %s, NULL, %s, %s, false)
                  ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, job_id = NULL,
                      started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stop_requested = false"""
        self._run(lambda c: c.execute(sql, (info.id, info.host, info.pid, info.started_at, info.heartbeat_at)))

    def remove_worker(self, worker_id: str) -> None:
        self._run(lambda c: c.execute(f"DELETE FROM {self._s}.workers WHERE id = %s", (worker_id,)))

    def list_workers(self, alive_since: float) -> list[WorkerInfo]:
        # The job a worker runs is the processing job that names it.
        sql = f"""SELECT w.id, w.host, w.pid,
                         (SELECT j.id FROM {self._s}.jobs j WHERE j.state = 'processing' AND j.worker = w.id
                          LIMIT 1),
                         w.started_at, w.heartbeat_at, w.stop_requested
                  FROM {self._s}.workers w WHERE w.heartbeat_at >= %s ORDER BY w.started_at, w.id"""
        rows = self._read(lambda c: c.execute(sql, (alive_since,)).fetchall())
        return [WorkerInfo(*r[:6], stop_requested=bool(r[6])) for r in rows]

    def request_stop(self, worker_ids: Sequence[str] | None = None) -> list[str]:
        sql = f"UPDATE {self._s}.workers SET stop_requested = true"
        if worker_ids is None:
            return self._run(lambda c: [r[0] for r in c.execute(sql + " RETURNING id")])
        return self._run(lambda c: [r[0] for r in c.execute(sql + " WHERE id = ANY(%s) RETURNING id",
                                                             (list(worker_ids),))])

    def stop_requested(self, worker_ids: Sequence[str]) -> set[str]:
        if not worker_ids:
            return set()
        sql = f"SELECT id FROM {self._s}.workers WHERE stop_requested AND id = ANY(%s)"
        return self._read(lambda c: {r[0] for r in c.execute(sql, (list(worker_ids),))})

    # wake-ups --------------------------------------------------------------------------------------
    def notify(self, event: str) -> None:
        """Best effort, like the SQLite store's datagrams: workers poll anyway."""
        try:
            self._run(lambda c: c.execute("SELECT pg_notify(%s, %s)", (self.channel, event)))
        except StorageError as exc:
            log.debug("notify %r failed: %s", event, exc)

    def listener(self) -> Listener:
        return PgListener(self)


class PgListener(Listener):
    """LISTEN on a connection of its own. When that connection breaks, wait() reconnects (at most
    once a second) and then reports a 'work' event: notifications sent meanwhile are lost, so
    everybody should look again."""

    RECONNECT_EVERY = 1.0

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._conn: psycopg.Connection | None = None
        self._closed = False
        self._last_try = 0.0
        self._listen()

    def _listen(self) -> bool:
        self._last_try = time.monotonic()
        try:
            conn = self._store.connect()
        except StorageError as exc:
            log.debug("listener: %s", exc)
            return False
        try:
            conn.execute(f"LISTEN {_quote(self._store.channel)}")
        except psycopg.Error as exc:
            log.debug("listener: %s", self._store.message(exc))
            conn.close()
            return False
        self._conn = conn
        return True

    def wait(self, timeout: float | None) -> list[str]:
        if self._closed:
            return []
        if self._conn is None:
            pause = max(0.0, self._last_try + self.RECONNECT_EVERY - time.monotonic())
            if timeout is not None and pause > timeout:
                time.sleep(timeout)
                return []
            time.sleep(pause)
            if self._listen():
                log.info("wake-ups from %s are back", self._store.location)
                return ["work"]
            return []
        try:
            events = [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)]
            if events:  # take whatever else has arrived, without waiting
                events += [n.payload for n in self._conn.notifies(timeout=0)]
            return events
        except psycopg.Error as exc:
            if not self._closed:
                log.warning("lost the wake-up connection to %s: %s", self._store.location, self._store.message(exc))
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
            return []

    def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
