"""PostgreSQL storage: the same guarded reads and writes as SQLiteStore, for workers on many machines.

Loaded only for postgresql:// URLs (see opening.open_store), so the SQLite path never imports psycopg.

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
import urllib.parse

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq

from .errors import StorageError
from .location import parse_postgres_url, scrub
from .models import Job
from .sql import POSTGRES, job_from_row, postgres, records_run
from .migrations.postgres import POSTGRES_MIGRATIONS as MIGRATIONS
from .migrations.postgres import POSTGRES_SCHEMA_VERSION as SCHEMA_VERSION
from .sql_store import SqlStore, not_utf8
from .outcome import Ended, Outcome
from .wake import Listener

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence, TypeVar

    T = TypeVar("T")

log = logging.getLogger("queuectl.postgres")


DEFAULT_SCHEMA = "queuectl"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")  # short enough for the channel name (63 bytes)
CONNECT_DEFAULTS = {"connect_timeout": "10", "application_name": "queuectl"}
MAX_IDLE = 16  # idle connections kept per store; more are closed when given back


# The finish statement (core/sql.py) and, only if it matched, the attempt's run row: by guard
# (False: finish, True: finish_if_lease).
FINISH_WITH_RUN = {
    lease: f"""WITH done AS ({POSTGRES["finish_if_lease" if lease else "finish"]} RETURNING id)
        INSERT INTO runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr,
                          stdout_dropped, stderr_dropped)
        SELECT id, %s::integer, %s::text, %s::float8, %s::float8, %s::integer, %s::text, %s::bytea, %s::bytea,
               %s::bigint, %s::bigint
        FROM done"""
    for lease in (False, True)
}

# What the queue's schema holds must be this role's (or a role's it is a member of) or a superuser's:
# whoever owns the schema, a table, a function or a trigger's function could read every command and
# env enqueued, add jobs that our workers run, or run SQL with our privileges from a trigger.
FOREIGN_OBJECT = """
WITH owned (what, owner) AS (
    SELECT 'schema ' || n.nspname, n.nspowner FROM pg_namespace n WHERE n.nspname = %(schema)s
    UNION ALL
    SELECT 'table ' || c.relname, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(schema)s
    UNION ALL
    SELECT 'function ' || p.proname, p.proowner
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(schema)s
    UNION ALL
    SELECT 'trigger ' || t.tgname, p.proowner
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_proc p ON p.oid = t.tgfoid WHERE n.nspname = %(schema)s AND NOT t.tgisinternal
)
SELECT o.what, r.rolname, current_user FROM owned o JOIN pg_roles r ON r.oid = o.owner
WHERE NOT r.rolsuper AND NOT pg_has_role(current_user, o.owner, 'MEMBER')
LIMIT 1
"""
MESSAGE_CHARS = 300  # a server error's CONTEXT can repeat a statement per trigger level: thousands of lines


def one_line(exc: BaseException) -> str:
    """The server's primary message when there is one (without its DETAIL, HINT and CONTEXT), on one line."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None)
    text = " ".join((primary or str(exc)).split()) or type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 3] + "..."


SHORT_SECRET = 4  # a password shorter than this is not cut out of a message: the message is dropped


def scrubbed(exc: BaseException, hidden: Sequence[str]) -> str:
    """A driver error as one line without any password text. libpq never sees the password in a URL
    (it is passed on its own), so its messages should not hold it; if one does all the same, it is
    cut out, or, for a password so short that cutting it out would spell it, the message is dropped."""
    text = one_line(exc)
    if any(len(h) < SHORT_SECRET and h in text for h in hidden):
        return f"{type(exc).__name__} (the message is not shown: it may hold the password)"
    return scrub(text, hidden=list(hidden))


def parse_location(url: str) -> tuple[str, dict[str, str], str, str, tuple[str, ...]]:
    """Split a postgresql:// URL into (libpq URL without the passwords, the passwords, the schema,
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
    return parsed.url, parsed.secrets, schema, parsed.shown, parsed.hidden


def _quote(name: str) -> str:
    return '"' + name + '"'  # names are checked against SCHEMA_NAME: nothing to escape


class PostgresStore(SqlStore):
    Q = POSTGRES
    TAIL = "substring({col} from greatest(length({col}) - {n} + 1, 1))"
    SCHEMA_VERSION = SCHEMA_VERSION

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._conninfo, self._secrets, self.schema, self.location, self._hidden = parse_location(url)
        self.channel = f"queuectl:{self.schema}"  # not a table: search_path does not apply to it
        self._s = _quote(self.schema)
        self._migrate()

    @property
    def url(self) -> str:
        return self._url

    def message(self, exc: BaseException) -> str:
        """A driver error as one line, without the password."""
        return scrubbed(exc, self._hidden)

    # connection handling ---------------------------------------------------------------------------
    def connect(self) -> psycopg.Connection:
        """A new autocommit connection whose unqualified names are the queue's schema's; StorageError
        (one line) if the server cannot be reached. The passwords go to libpq on their own, never in
        the URL that libpq parses and may quote."""
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._secrets)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {self.location}: {self.message(exc)}") from None
        try:
            # Set here, not with libpq's `options`, which a URL may already give. pg_catalog is
            # still searched first, so a table in the schema never shadows a built-in function.
            conn.execute("SELECT set_config('search_path', %s, false)", (self._s,))
        except psycopg.Error as exc:
            self._discard(conn)
            raise StorageError(f"cannot use {self.location}: {self.message(exc)}") from None
        return conn

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
                self._close_idle()

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
                    self._close_idle()  # after a lost connection the idle ones most likely died with it
                    if read and reused and tries == 1:
                        continue
                    raise StorageError(f"lost the connection to {self.location}: {self.message(exc)}") from None
                self._give_back(conn)
                if isinstance(exc, pg_errors.TransactionRollback) and tries < 3:
                    continue  # rolled back as a whole: safe to run again
                raise StorageError(f"database error on {self.location}: {self.message(exc)}") from None
            except UnicodeEncodeError:  # a parameter it could not send; a transaction was rolled back
                self._give_back(conn)
                raise not_utf8() from None
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

    def _write_one(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return self._run(fn)  # autocommit: one statement is a transaction of its own

    def _in(self, name: str, values: Sequence) -> tuple[str, tuple]:
        return self.Q[name], (list(values),)

    @staticmethod
    def _values(values: Sequence) -> tuple[str, tuple]:
        return "= ANY(?)", (list(values),)

    LIKE = "ILIKE"  # SQLite's LIKE ignores case
    dialect = staticmethod(postgres)
    # by statement and 0, 1 or more queues: one queue is named as a value, so that the planner knows
    # jobs_ready_queue gives its jobs in claim order
    _served_sql = {(name, n): POSTGRES[name].replace("{served}", ("", f" AND {column} = %s", f" AND {column} = ANY(%s)")[n])
                   for name, column in SqlStore.SERVED.items() for n in (0, 1, 2)}

    def _served(self, name: str, queues: Sequence[str] | None) -> tuple[str, tuple]:
        if not queues:
            return self._served_sql[(name, 0)], ()
        if len(queues) == 1:
            return self._served_sql[(name, 1)], (queues[0],)
        return self._served_sql[(name, 2)], (list(queues),)

    # migrations ------------------------------------------------------------------------------------
    def _refuse_foreign(self, conn: psycopg.Connection) -> None:
        """StorageError if another role owns the schema or anything in it (see FOREIGN_OBJECT)."""
        found = conn.execute(FOREIGN_OBJECT, {"schema": self.schema}).fetchone()
        if found is not None:
            what, owner, user = found
            raise StorageError(f"{self.location}: {what} belongs to role {owner}: refused, as its owner could read"
                               f" and change this queue (it must be {user}'s, a role's that {user} is a member"
                               " of, or a superuser's)")

    def _version(self, conn: psycopg.Connection) -> int:
        self._refuse_foreign(conn)
        # A plain query on the catalog, not to_regclass(): that reads a cache which may not yet
        # show a table that another session created while we waited for the lock.
        found = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = 'meta'", (self.schema,)).fetchone()
        if found is None:
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    def _lock_schema(self, conn: psycopg.Connection) -> None:
        # One process migrates; the others wait here, then find the work done.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.channel,))

    def _prepare_upgrade(self, conn: psycopg.Connection, current: int) -> None:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone() is None:
            conn.execute(f"CREATE SCHEMA {self._s}")  # search_path names it already: now it resolves
        self._refuse_foreign(conn)  # made by another role since _version looked
        if current == 0:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _upgrade_to(self, conn: psycopg.Connection, target: int) -> None:
        # one script: a function body holds semicolons of its own; {schema}: this queue's, quoted
        conn.execute(MIGRATIONS[target].replace("{schema}", self._s))
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                     " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(target),))

    # jobs ------------------------------------------------------------------------------------------
    TAKEN = pg_errors.UniqueViolation

    def _insert(self, conn: psycopg.Connection, rows: list[tuple]) -> None:
        with conn.cursor() as cur, cur.copy(self.Q["insert_jobs"]) as copy:
            for row in rows:
                copy.write_row(row)

    def _taken(self, ids: Sequence[str]) -> Callable[[str], bool]:
        sql = "SELECT id FROM jobs WHERE id = ANY(%s)"
        return self._read(lambda c: {r[0] for r in c.execute(sql, (list(ids),))}).__contains__

    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (), queues: Sequence[str] | None = None,
    ) -> tuple[list[bool], list[Job], list[str]]:
        """As SQLiteStore: the guarded finishes (with their run rows), the releases, then the claims,
        in one transaction; the claims happen whether or not the finishes were still ours to record.
        Separate statements, not one with CTEs: a claim must see the finishes and the claims before it
        (all CTEs of a statement share one snapshot), as on SQLite. They go out in one pipeline:
        BEGIN, the statements and COMMIT in one network round trip. A failure is a StorageError like
        any write's: the caller cannot know if it committed."""
        finishes = [self._finish_sql(e.job_id, worker_id, e.attempt, e.outcome, None) for e in ended]
        release_sql = self.Q["release"]
        claim_sql, pick = self._claim_sql(False, queues, now)
        more_sql, _ = self._claim_sql(True, queues, now)
        lock_sql, served = self._served("lock_limited", queues)
        claim_params = (worker_id, now, now, lease_until, *pick, worker_id)

        def all_in_one(conn: psycopg.Connection) -> tuple[list[bool], list[Job], list[str]]:
            # BEGIN and COMMIT by hand: conn.transaction() would wait for the BEGIN (a Sync). Sent
            # at once, with one Sync at the end of the pipeline. On an error the server skips the
            # rest up to that Sync and the transaction is left aborted: the connection is then not
            # idle, so _run discards it (closing it rolls back).
            with conn.pipeline():
                conn.execute("BEGIN")
                finished = [conn.execute(sql, params) for sql, params in finishes]
                released = [conn.execute(release_sql, (now, now, job_id, worker_id, attempt))
                            for job_id, attempt in release]
                if claim:
                    conn.execute(lock_sql, served)
                claimed = [conn.execute(more_sql if n else claim_sql, claim_params) for n in range(claim)]
                conn.execute("COMMIT")
            rows = [cur.fetchone() for cur in claimed]
            cancelled = [job_id for (job_id, _), cur in zip(release, released) if cur.fetchone() == ("dead",)]
            return ([cur.rowcount == 1 for cur in finished], [job_from_row(row) for row in rows if row is not None],
                    cancelled)

        return self._run(all_in_one)

    def claim(self, worker_id: str, now: float, lease_until: float, queues: Sequence[str] | None = None) -> Job | None:
        """One claim, in a transaction with the lock of the limited queues (see record_and_claim)."""
        claimed = self.record_and_claim((), worker_id, now, lease_until, 1, (), queues)[1]
        return claimed[0] if claimed else None

    def _finish(self, conn: psycopg.Connection, job_id: str, worker_id: str, attempt: int, outcome: Outcome,
                lease_seen: float | None) -> bool:
        sql, params = self._finish_sql(job_id, worker_id, attempt, outcome, lease_seen)
        return conn.execute(sql, params).rowcount == 1

    def _finish_sql(self, job_id: str, worker_id: str, attempt: int, o: Outcome,
                    lease_seen: float | None) -> tuple[str, list[Any]]:
        """One statement: the guarded update of the job and, only if it matched, its run row (none
        for a quiet success: see records_run). Its row count is 1 if this worker still held this
        attempt, else 0 (nothing written)."""
        params = self._finish_params(job_id, worker_id, attempt, o, lease_seen)
        if not records_run(o):
            return self.Q["finish" if lease_seen is None else "finish_if_lease"], params
        return FINISH_WITH_RUN[lease_seen is not None], [
            *params, attempt, worker_id, o.started_at, o.finished_at, o.exit_code, o.error,
            bytes(o.stdout), bytes(o.stderr), o.stdout_dropped, o.stderr_dropped]

    def _delete_runs(self, conn: psycopg.Connection, job_ids: list[str]) -> None:
        conn.execute(self.Q["prune_runs"], (job_ids,))


    # counts --------------------------------------------------------------------------------------
    def fold_counts(self) -> None:
        self._write_one(lambda c: c.execute("SELECT fold_job_counts()"))  # schema 12

    # wake-ups --------------------------------------------------------------------------------------
    def notify(self, event: str) -> None:
        """Best effort, like the SQLite store's datagrams: workers poll anyway."""
        try:
            self._run(lambda c: c.execute("SELECT pg_notify(%s, %s)", (self.channel, event)))
        except StorageError as exc:
            log.debug("notify %r failed: %s", event, exc)

    def listener(self) -> Listener:
        from .pg_listener import PgListener

        return PgListener(self)
