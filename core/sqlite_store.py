"""SQLite storage: one database file, WAL mode, a pool of connections shared by threads.

Its statements and migrations are in core/sql.py (SQLITE, SQLITE_MIGRATIONS), the checks made
before a file is opened in core/sqlite_files.py.
"""

from __future__ import annotations

import os
import re
import sqlite3

from .errors import StorageError
from .migrations import statements
from .migrations.sqlite import SQLITE_MIGRATIONS as MIGRATIONS
from .migrations.sqlite import SQLITE_SCHEMA_VERSION as SCHEMA_VERSION
from .sql import SQLITE, records_run
from .sql_store import SqlStore, not_utf8
from .sqlite_files import SQLiteFiles
from .models import STATES
from .outcome import Ended, Outcome
from .store import READY
from .wake import Listener, SocketListener, SocketNotifier

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Callable, Sequence, TypeVar
    from .models import Job

    T = TypeVar("T")


# Output larger than this is written into its row in place (zeroblob, then blob writes of a MiB):
# bound as a parameter, SQLite copies it once on binding and once more into the row's record. That
# holds only while the blobs are the row's last columns (see migration 6).
BLOB_IN_PLACE = 1 << 20
FOREIGN_CHECK = ("SELECT (SELECT count(*) FROM sqlite_master), (SELECT count(*) = 2 FROM sqlite_master"
                 " WHERE type = 'table' AND name IN ('jobs', 'runs')), (SELECT user_version FROM pragma_user_version)")
INSERT_RUN = ("INSERT INTO runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr,"
              " stdout_dropped, stderr_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, {streams}, ?, ?)")
INSERT_RUN_BOUND = INSERT_RUN.format(streams="?, ?")
INSERT_RUN_IN_PLACE = INSERT_RUN.format(streams="zeroblob(?), zeroblob(?)")


def write_in_place(conn: sqlite3.Connection, rowid: int, columns: dict[str, bytes]) -> None:
    for column, data in columns.items():
        if data:
            view = memoryview(data)
            with conn.blobopen("runs", column, rowid) as blob:
                for at in range(0, len(view), BLOB_IN_PLACE):
                    blob.write(view[at:at + BLOB_IN_PLACE])


class SQLiteStore(SQLiteFiles, SqlStore):
    Q = SQLITE
    TAIL = "substr({col}, -{n})"
    SCHEMA_VERSION = SCHEMA_VERSION
    BUSY_TIMEOUT_MS = 30_000
    # A job's transaction touches ~10 pages (the two job rows, its run, the indexes, the counters),
    # each written whole to the WAL: 2 KiB pages halve those bytes; rows are ~300 bytes, so the
    # trees barely deepen. Existing databases keep their page size (fixed once in WAL mode).
    PAGE_SIZE = 2048

    def __init__(self, path: str, create: bool = True, make_folder: bool = False) -> None:
        """create: make the file if it is missing (in an existing folder, or with its folders too if
        make_folder), and refuse a file this user cannot write. Else the file must exist, and one
        that cannot be written is opened read-only."""
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed (RETURNING)")
        super().__init__()
        try:
            self.location = self.path = os.path.abspath(os.path.expanduser(path))
        except FileNotFoundError:  # os.getcwd() of a deleted folder
            raise StorageError(f"cannot open database {path}: the current folder no longer exists"
                               " (give the database's absolute path)") from None
        self._target = self.path  # what SQLite opens: a file: URI of the real path (see _check_files)
        self._known = False  # the file was seen to be a queuectl database (or a new one)
        self._notifier = SocketNotifier(self.path)
        self._file = self._check_files(create, make_folder)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise
        self._opened = self._identity()  # what replaced() compares the file at the path with

    # connection handling ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        problem = self.replaced() if hasattr(self, "_opened") else None
        if problem:  # a file now at the path is another queue: never opened in its place
            raise StorageError(problem)
        conn = None
        try:
            conn = sqlite3.connect(self._target, timeout=self.BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False, uri=True)
            conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
            if not self._known:
                self._refuse_foreign(conn)
            if not self.read_only:
                if os.path.getsize(self._file) == 0:  # a new database: only now can its page size be chosen
                    conn.execute(f"PRAGMA page_size = {self.PAGE_SIZE}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StorageError(f"cannot use {self.path}: WAL mode is not available ({mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
            if self._shared:  # before anything is written or trusted; the read opens the -wal and -shm
                conn.execute("PRAGMA schema_version")
                self.check_open_companions(self._file)
        except (sqlite3.DatabaseError, StorageError) as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc) if isinstance(exc, sqlite3.Error) else exc from None
        return conn

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Another program's database (a mistyped --db): refused before WAL mode or a migration
        changes it. Ours has a schema version and jobs and runs tables; a new one has nothing yet."""
        objects, ours, version = conn.execute(FOREIGN_CHECK).fetchone()
        if objects and (version == 0 or not ours):
            conn.close()
            raise StorageError(f"refusing {self.path}: it is another program's SQLite database, not a queuectl one")
        self._known = True

    def _error(self, exc: sqlite3.Error) -> StorageError:
        text = str(exc)
        if "not a database" in text:
            return StorageError(f"{self.path} is not a queuectl database (not SQLite)")
        if "readonly" in text or "read-only" in text:
            return StorageError(f"{self.path} is read-only")
        if "unable to open" in text:
            return StorageError(f"cannot open database {self.path}")
        if ("disk I/O error" in text or "disk is full" in text) and self._disk_full():
            return StorageError(f"database error on {self.path}: no space left on its device ({text})")
        return StorageError(f"database error on {self.path}: {text}")

    def _disk_full(self) -> bool:
        """Whether the device holding the database has no room left: SQLite says "disk I/O error"
        when it cannot even make its -shm file, which reads like failing hardware."""
        try:
            st = os.statvfs(os.path.dirname(self.path) or ".")
        except OSError:
            return False
        return (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize < 64 * 1024

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) on an idle connection and turn SQLite errors into one readable StorageError.
        Connections are pooled, not per thread, so short-lived threads (the app's) do not leak them."""
        if self._closed:
            raise StorageError(f"{self.path}: the queue is closed")
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._connect()
        try:
            return fn(conn)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        except UnicodeEncodeError:
            raise not_utf8() from None
        finally:
            if conn.in_transaction:  # never hand out a connection stuck in a transaction
                conn.rollback()
            self._idle.append(conn)
            if self._closed:  # closed while we used it: close() could not, so we do
                self._close_idle()

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) in one IMMEDIATE transaction (takes the write lock up front, so the busy
        timeout applies instead of a deadlock-driven 'database is locked')."""

        def txn(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                if conn.in_transaction:  # SQLite ends it itself on some errors (a full disk): keep that error
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return self._run(txn)

    def _in(self, name: str, values: Sequence) -> tuple[str, tuple]:
        sql, params = self._values(values)
        return self.Q[name].replace("{ids}", sql), params

    @staticmethod
    def _values(values: Sequence) -> tuple[str, tuple]:
        return f"IN ({', '.join('?' * len(values))})", tuple(values)

    @staticmethod
    def _index(states: Sequence[str] | None, order: str, queues: Sequence[str] | None) -> str:
        # Without stats the planner prefers the state index and sorts every ready job, or walks the
        # whole table for the few processing jobs (jobs_state_seq leaves them out): name the index.
        if order == "claim" and states and tuple(states) == READY:
            return " INDEXED BY jobs_ready_queue" if queues and len(queues) == 1 else " INDEXED BY jobs_ready"
        if order == "waiting":
            return " INDEXED BY jobs_waiting"
        if states and tuple(states) == ("processing",):
            return " INDEXED BY jobs_running"
        return ""

    READY_INDEXES = (" INDEXED BY jobs_ready", " INDEXED BY jobs_ready_queue")
    _served_sql: dict[tuple[str, int], str] = {}  # by statement and number of queues: built once

    def _served(self, name: str, queues: Sequence[str] | None) -> tuple[str, tuple]:
        n = len(queues) if queues else 0
        sql = self._served_sql.get((name, n))
        if sql is None:
            sql = self.Q[name]
            if n == 1:  # one queue: its first ready job is one seek in its own index, whatever comes before
                sql = re.sub(r"INDEXED BY jobs_ready\b", "INDEXED BY jobs_ready_queue", sql)
            served = f" AND {self.SERVED[name]} IN ({', '.join('?' * n)})" if n else ""
            sql = self._served_sql[(name, n)] = sql.replace("{served}", served)
        return sql, tuple(queues or ())

    def _version(self, conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def _may_upgrade(self, found: int) -> None:
        if self.read_only:
            raise StorageError(f"{self.path} is read-only and needs an upgrade (schema version {found} to"
                               f" {SCHEMA_VERSION}): make it writable")

    def _upgrade_to(self, conn: sqlite3.Connection, target: int) -> None:
        for statement in statements(MIGRATIONS[target]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")

    def close(self) -> None:
        super().close()
        self._notifier.close()

    # jobs ------------------------------------------------------------------------------------------
    TAKEN = sqlite3.IntegrityError

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple]) -> None:
        conn.executemany(self.Q["insert_jobs"], rows)
        # counted here, not by a trigger per row (that doubled the cost of `enqueue -`): schema 2. A
        # new queue gets its five rows, which the triggers (schema 7) then only update.
        added: dict[str, int] = {}
        for row in rows:
            added[row[9]] = added.get(row[9], 0) + 1
        conn.executemany("INSERT OR IGNORE INTO queue_counts (k, n) VALUES (?, 0)",
                         [(f"{state} {queue}",) for queue in added for state in STATES])
        conn.executemany("UPDATE queue_counts SET n = n + ? WHERE k = ?",
                         [(n, f"pending {queue}") for queue, n in added.items()])

    def _taken(self, ids: Sequence[str]) -> Callable[[str], bool]:
        return lambda job_id: self.get_job(job_id) is not None  # one look-up each, up to the first taken

    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (), queues: Sequence[str] | None = None,
    ) -> tuple[list[bool], list[Job], list[str]]:
        def all_in_one(conn: sqlite3.Connection) -> tuple[list[bool], list[Job], list[str]]:
            finished = [self._finish(conn, e.job_id, worker_id, e.attempt, e.outcome, None) for e in ended]
            cancelled = [job_id for job_id, attempt in release
                         if conn.execute(self.Q["release"], (now, now, job_id, worker_id, attempt)).fetchone()
                         == ("dead",)]
            claimed = []
            while len(claimed) < claim and (job := self._claim(conn, worker_id, now, lease_until, queues,
                                                               bool(claimed))) is not None:
                claimed.append(job)
            return finished, claimed, cancelled

        return self._write(all_in_one)

    def _finish(self, conn: sqlite3.Connection, job_id: str, worker_id: str, attempt: int, outcome: Outcome,
                lease_seen: float | None) -> bool:
        sql = self.Q["finish" if lease_seen is None else "finish_if_lease"]
        if conn.execute(sql, self._finish_params(job_id, worker_id, attempt, outcome, lease_seen)).rowcount != 1:
            return False
        o = outcome
        if records_run(o):
            big = len(o.stdout) + len(o.stderr) > BLOB_IN_PLACE
            cur = conn.execute(
                INSERT_RUN_IN_PLACE if big else INSERT_RUN_BOUND,
                (job_id, attempt, worker_id, o.started_at, o.finished_at, o.exit_code, o.error,
                 *((len(o.stdout), len(o.stderr)) if big else (o.stdout, o.stderr)), o.stdout_dropped, o.stderr_dropped),
            )
            if big:
                write_in_place(conn, cur.lastrowid, {"stdout": o.stdout, "stderr": o.stderr})
        return True

    def _delete_runs(self, conn: sqlite3.Connection, job_ids: list[str]) -> None:
        conn.executemany(self.Q["prune_runs"], [(i,) for i in job_ids])

    # wake-ups --------------------------------------------------------------------------------------
    def notify(self, event: str) -> None:
        self._notifier.notify(event)

    def listener(self) -> Listener:
        return SocketListener(self.path)
