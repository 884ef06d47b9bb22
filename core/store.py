"""Storage: the small interface the engine needs, and its SQLite implementation.

The queue logic (which state a failed job goes to, how long it waits) lives in queue.py and
worker.py; a store only runs guarded reads and writes, so another backend is a short class.
"""

from __future__ import annotations

import abc
import os
import sqlite3
import stat
from typing import Iterable, Sequence

from .errors import IdTaken, StorageError
from .models import Job, JobSpec, Run, WorkerInfo
from .outcome import Ended, Outcome  # re-exported: their home was here
from .wake import Listener, SocketListener, SocketNotifier

READY = ("pending", "failed")  # states a worker may claim once run_at is due


class Store(abc.ABC):
    """Everything the engine asks of a database. All methods are safe to call from any thread."""

    location: str  # to show: never a password (see core/location.py)

    @property
    def url(self) -> str:
        """What Queue.open() takes to open this database again. It may hold a password: never show it."""
        return self.location
    read_only = False  # opened for reading only: every write raises StorageError

    # jobs ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def insert_jobs(self, specs: Sequence[JobSpec], ids: Sequence[str], now: float) -> None:
        """Insert all jobs in one transaction, or none. Raises IdTaken."""

    @abc.abstractmethod
    def get_job(self, job_id: str, with_runs: bool = False, tail: int | None = None) -> Job | None:
        """The job; with_runs: with its attempts. tail: read only the last `tail` bytes (>= 1) of
        each attempt's stdout and stderr (Run.stdout_unread says how many more are stored)."""

    @abc.abstractmethod
    def list_jobs(
        self, states: Sequence[str] | None, limit: int, search: str | None = None, order: str = "created"
    ) -> list[Job]:
        """Jobs in the given states. order: created (newest first), claim (next to run first),
        finished (latest first), started (latest first)."""

    @abc.abstractmethod
    def count_jobs(self, states: Sequence[str] | None = None, search: str | None = None) -> int: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of jobs per state; states with no jobs may be missing."""

    @abc.abstractmethod
    def completed_since(self, since: float) -> int: ...

    @abc.abstractmethod
    def next_due(self) -> float | None:
        """The earliest run_at among claimable jobs."""

    @abc.abstractmethod
    def claim(self, worker_id: str, now: float, lease_until: float) -> Job | None:
        """Atomically take the best due job: highest priority, earliest due, oldest."""

    @abc.abstractmethod
    def renew_leases(self, worker_ids: Sequence[str], now: float, lease_until: float) -> None:
        """Heartbeat: extend the leases of jobs these workers hold and mark the workers alive."""

    @abc.abstractmethod
    def finish(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, lease_seen: float | None = None
    ) -> bool:
        """Record an attempt's end, only if worker_id still holds this attempt of the job (and, with
        lease_seen, only if its lease was not renewed since it was seen: lease_until <= lease_seen).
        False if it no longer does."""

    def finish_and_claim(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, now: float, lease_until: float
    ) -> tuple[bool, Job | None]:
        """finish() this attempt, then claim() the next job for the same worker: (finished, job)."""
        finished, claimed = self.record_and_claim([Ended(job_id, attempt, outcome)], worker_id, now, lease_until)
        return finished[0], claimed[0] if claimed else None

    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (),
    ) -> tuple[list[bool], list[Job]]:
        """finish() each ended attempt, release() each (job id, attempt) given, then claim() up to
        `claim` jobs for the same worker: (finished, per ended attempt; the jobs claimed). A backend
        does it all in one transaction (one round trip and one commit); the claims happen whether or
        not the finishes were still this worker's to record. This default is correct but not atomic."""
        finished = [self.finish(e.job_id, worker_id, e.attempt, e.outcome) for e in ended]
        for job_id, attempt in release:
            self.release(job_id, worker_id, attempt, now)
        claimed = []
        while len(claimed) < claim and (job := self.claim(worker_id, now, lease_until)) is not None:
            claimed.append(job)
        return finished, claimed

    @abc.abstractmethod
    def release(self, job_id: str, worker_id: str, attempt: int, now: float) -> bool:
        """Undo a claim whose job never started (claimed with a job that turned out slow, or as the
        worker lost the database): back to pending or failed with the attempt not counted, only if
        worker_id still holds it; dead, 'cancelled', if a cancel was requested meanwhile."""

    @abc.abstractmethod
    def expired(self, now: float) -> list[Job]:
        """Processing jobs whose lease ran out."""

    @abc.abstractmethod
    def requeue_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        """Dead to pending with attempts reset; None means every dead job. Returns the ids moved."""

    @abc.abstractmethod
    def cancel_waiting(self, job_id: str, now: float) -> bool:
        """A pending or failed job to dead, last_error 'cancelled'."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str) -> bool:
        """Flag a processing job so its worker kills it."""

    @abc.abstractmethod
    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]: ...

    @abc.abstractmethod
    def prune(self, states: Sequence[str], finished_before: float) -> int: ...

    # settings ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def read_settings(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def write_setting(self, key: str, value: str) -> None: ...

    # workers -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def register_worker(self, info: WorkerInfo) -> None: ...

    @abc.abstractmethod
    def remove_worker(self, worker_id: str) -> None: ...

    @abc.abstractmethod
    def list_workers(self, alive_since: float) -> list[WorkerInfo]:
        """Workers whose heartbeat is not older than alive_since. A worker's job_id is the
        processing job whose `worker` is that worker (the workers table's job_id column is unused)."""

    @abc.abstractmethod
    def request_stop(self, worker_ids: Sequence[str] | None = None) -> list[str]:
        """Ask workers (all registered ones by default) to stop; returns the ids asked."""

    @abc.abstractmethod
    def stop_requested(self, worker_ids: Sequence[str]) -> set[str]: ...

    # wake-ups ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def notify(self, event: str) -> None:
        """Tell listening processes that something happened ('work', 'cancel', 'stop')."""

    @abc.abstractmethod
    def listener(self) -> Listener: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def replaced(self) -> str | None:
        """Why this store's database is no longer the one at its location (a SQLite file deleted or
        replaced under the open connections), or None. A server database never is."""
        return None


# --- SQLite --------------------------------------------------------------------------------------

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


JOB_COLUMNS = (
    "id, command, state, attempts, max_retries, priority, run_at, timeout, created_at, updated_at, "
    "started_at, finished_at, exit_code, last_error, worker, lease_until"
)
ORDERS = {
    "created": "seq DESC",
    "claim": "priority DESC, run_at, seq",
    "finished": "finished_at DESC, seq DESC",
    "started": "started_at DESC, seq DESC",
}


def job_from_row(row: Sequence) -> Job:
    return Job(*row)


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


# Output larger than this is written into its row in place (zeroblob, then blob writes of a MiB):
# bound as a parameter, SQLite copies it once on binding and once more into the row's record, so
# an attempt with 64 MiB per stream took 256 MiB more of the worker's memory to record.
BLOB_IN_PLACE = 1 << 20


def write_in_place(conn: sqlite3.Connection, rowid: int, columns: dict[str, bytes]) -> None:
    for column, data in columns.items():
        if data:
            view = memoryview(data)
            with conn.blobopen("runs", column, rowid) as blob:
                for at in range(0, len(view), BLOB_IN_PLACE):
                    blob.write(view[at:at + BLOB_IN_PLACE])


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _make_folders(folder: str) -> None:
    """The default location's folders: each one missing made 0700, whatever the umask."""
    missing = []
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    for name in reversed(missing):
        try:
            os.mkdir(name, 0o700)
        except FileExistsError:
            continue
        os.chmod(name, 0o700)


def _check_folder(path: str, folder: str, uid: int) -> bool:
    """The folder must be this user's or root's, and not writable by others unless sticky (whoever
    may write to it may swap the files in it). Returns whether others may write to it (sticky)."""
    st = os.stat(folder)
    if st.st_uid not in (uid, 0):
        raise StorageError(f"refusing {path}: its folder {folder} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise StorageError(f"refusing {path}: its folder {folder} is writable by other users"
                           f" (mode {stat.S_IMODE(st.st_mode):04o}) and not sticky")
    return bool(st.st_mode & 0o022)


FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
              stat.S_IFIFO: "a fifo", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def _check_file(path: str, st: os.stat_result, uid: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise StorageError(f"refusing {path}: it is {kind}, not a queuectl database file")
    if st.st_uid != uid:
        raise StorageError(f"refusing {path}: it belongs to another user (uid {st.st_uid}), not to this one (uid {uid})")
    if st.st_mode & 0o022:
        raise StorageError(f"refusing {path}: it is writable by other users (mode {stat.S_IMODE(st.st_mode):04o})")


def _make_companion(path: str, mode: int) -> None:
    """Make an empty -wal or -shm for SQLite, with the database file's mode, as SQLite would. One
    that exists already (another process of ours opening the database, or not) is checked."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except FileExistsError:
        _check_file(path, os.lstat(path), os.geteuid())
        return
    os.fchmod(fd, mode)
    os.close(fd)


def _add_owner_write(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)
    finally:
        os.close(fd)


class SQLiteStore(Store):
    BUSY_TIMEOUT_MS = 30_000
    # A job's transaction touches ~10 pages (the two job rows, its run, the indexes, the counters),
    # and each is written whole to the WAL, checksummed, copied back by the checkpoint, and read
    # again by the next process that writes (another writer's commit empties a connection's page
    # cache). 2 KiB pages halve those bytes; rows are ~300 bytes, so the trees barely deepen.
    # Existing databases keep their page size (it cannot change once in WAL mode).
    PAGE_SIZE = 2048

    def __init__(self, path: str, create: bool = True, make_folder: bool = False) -> None:
        """create: make the file if it is missing (in an existing folder, or with its folders too if
        make_folder), and refuse a file this user cannot write. Else the file must exist, and one
        that cannot be written is opened read-only."""
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed (RETURNING)")
        self.location = self.path = os.path.abspath(os.path.expanduser(path))
        self._target = self.path  # what SQLite opens: the path, or a file: URI to read only
        # Idle connections; list.pop/append are atomic, so taking one needs no lock. A connection is
        # used by one thread at a time, from pop to append: close() closes only the idle ones, and a
        # connection in use when the store closes is closed by its user as it comes back (_run).
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._notifier = SocketNotifier(self.path)
        self._file = self._check_files(create, make_folder)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise
        self._opened = self._identity()  # what replaced() compares the file at the path with

    # the files -------------------------------------------------------------------------------------
    def _check_files(self, create: bool, make_folder: bool) -> str:
        """Before SQLite touches anything: the database must be a regular file of this user's, with
        its -wal and -shm if they exist, none of them writable by others, in a folder that only this
        user (or root) can change, unless it is sticky like /tmp. Makes the file (0600) if missing
        and create. Returns the real path of the file."""
        uid, path = os.geteuid(), self.path
        try:
            st = _lstat(path)
            if st is not None and stat.S_ISLNK(st.st_mode):
                if st.st_uid not in (uid, 0):
                    raise StorageError(f"refusing {path}: it is a symbolic link of another user's (uid {st.st_uid})")
                path = os.path.realpath(path)
                st = _lstat(path)
            folder = os.path.dirname(path)
            if st is None:
                if not create:
                    raise StorageError(f"no queue database at {self.path}: check the path"
                                       " (enqueue, worker start and config set create one)")
                if make_folder:
                    _make_folders(folder)
                elif not os.path.isdir(folder):
                    raise StorageError(f"cannot create database {self.path}: no folder {folder}")
            shared = _check_folder(path, folder, uid)
            if st is None:
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                except FileExistsError:  # made meanwhile: checked below like any other
                    pass
                else:
                    os.fchmod(fd, 0o600)  # whatever the umask
                    os.close(fd)
                st = os.lstat(path)
            _check_file(path, st, uid)
            companions = {suffix: _lstat(path + suffix) for suffix in ("-wal", "-shm")}
            # a -journal is only SQLite's while it makes a new database, but one found is played back
            for suffix, cst in [*companions.items(), ("-journal", _lstat(path + "-journal"))]:
                if cst is not None:
                    _check_file(path + suffix, cst, uid)
            if not os.access(path, os.W_OK):
                self._open_read_only(path, create, companions)
                return path
            for suffix, cst in companions.items():
                if cst is not None and not cst.st_mode & stat.S_IWUSR:
                    _add_owner_write(path + suffix)  # left by an older version reading a read-only file
                elif cst is None and shared and st.st_size > 0:
                    # In a folder others may write to (/tmp), another user could make these in the
                    # instant before SQLite does: they are made now, as SQLite makes them. (Never
                    # removed by us: another connection may be using them by then.)
                    _make_companion(path + suffix, stat.S_IMODE(st.st_mode))
            return path
        except OSError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc.strerror}") from None

    def _open_read_only(self, path: str, create: bool, companions: dict) -> None:
        """A file this user cannot write: read it without making any file beside it (SQLite's
        read-only mode would make a -wal and -shm as read-only as the file, and a writer would find
        them so once the file was writable again)."""
        if create:
            raise StorageError(f"{self.path} is read-only")
        self.read_only = True
        wal, shm = companions["-wal"], companions["-shm"]
        uri = "file:" + path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        if wal is None or wal.st_size == 0:  # all its content is in the file
            self._target = uri + "?mode=ro&immutable=1"
        elif shm is not None:
            self._target = uri + "?mode=ro"
        else:
            raise StorageError(f"{self.path} is read-only and its {path}-wal holds changes SQLite must merge first:"
                               " make the file writable")

    # connection handling ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self._target, timeout=self.BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False, uri=self.read_only)
            conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
            if not self.read_only:
                if os.path.getsize(self._file) == 0:  # a new database: only now can its page size be chosen
                    conn.execute(f"PRAGMA page_size = {self.PAGE_SIZE}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StorageError(f"cannot use {self.path}: WAL mode is not available ({mode})")
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        return conn

    def _error(self, exc: sqlite3.Error) -> StorageError:
        text = str(exc)
        if "not a database" in text:
            return StorageError(f"{self.path} is not a queuectl database (not SQLite)")
        if "readonly" in text or "read-only" in text:
            return StorageError(f"{self.path} is read-only")
        if "unable to open" in text:
            return StorageError(f"cannot open database {self.path}")
        return StorageError(f"database error on {self.path}: {text}")

    def _run(self, fn):
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
        finally:
            if conn.in_transaction:  # never hand out a connection stuck in a transaction
                conn.rollback()
            self._idle.append(conn)
            if self._closed:  # closed while we used it: close() could not, so we do
                self._close_idle()

    def _write(self, fn):
        """Run fn(conn) in one IMMEDIATE transaction (takes the write lock up front, so the busy
        timeout applies instead of a deadlock-driven 'database is locked')."""

        def txn(conn: sqlite3.Connection):
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return self._run(txn)

    def _migrate(self) -> None:
        def migrate(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} has schema version {version}, newer than this queuectl ({SCHEMA_VERSION}): upgrade it"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in statements(MIGRATIONS[target]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")

        try:
            version = self._run(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        except StorageError:
            raise
        if version < SCHEMA_VERSION and self.read_only:
            raise StorageError(f"{self.path} is read-only and needs an upgrade (schema version {version} to"
                               f" {SCHEMA_VERSION}): make it writable")
        if version != SCHEMA_VERSION:
            self._write(migrate)

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def replaced(self) -> str | None:
        try:
            found = self._identity()
        except OSError:  # cannot look (a folder made unreadable): not judged
            return None
        if found is None:
            return f"{self.path} was deleted while in use"
        if found != self._opened:
            return f"{self.path} was replaced by another file while in use"
        return None

    def close(self) -> None:
        """Close every idle connection now and each one in use as its thread gives it back: closing
        a connection while another thread runs a statement on it crashes the process (SQLite's C
        code frees what the statement still uses). Later calls raise StorageError."""
        self._closed = True
        self._close_idle()
        self._notifier.close()

    def _close_idle(self) -> None:
        while True:
            try:
                conn = self._idle.pop()  # atomic: each connection is closed by one thread only
            except IndexError:
                return
            try:
                conn.close()
            except sqlite3.Error:
                pass

    # jobs ------------------------------------------------------------------------------------------
    def insert_jobs(self, specs: Sequence[JobSpec], ids: Sequence[str], now: float) -> None:
        rows = [
            (job_id, s.command, "pending", s.max_retries, s.priority, s.run_at, s.timeout, now, now)
            for s, job_id in zip(specs, ids)
        ]

        def insert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("UPDATE job_counts SET n = n + ? WHERE state = 'pending'", (len(rows),))

        try:
            self._write(insert)
        except sqlite3.IntegrityError:
            raise IdTaken(self._first_taken(ids)) from None

    def _first_taken(self, ids: Sequence[str]) -> str:
        seen: set[str] = set()
        for job_id in ids:
            if job_id in seen or self.get_job(job_id) is not None:
                return job_id
            seen.add(job_id)
        return ids[0] if ids else "?"

    def get_job(self, job_id: str, with_runs: bool = False, tail: int | None = None) -> Job | None:
        columns = run_columns(None if tail is None else f"substr({{col}}, -{max(1, int(tail))})")

        def get(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if not with_runs:
                return job_from_row(row)
            sql = f"SELECT {columns} FROM runs WHERE job_id = ? ORDER BY id"
            return job_with_runs(row, conn.execute(sql, (job_id,)))

        return self._run(get)

    def _where(self, states: Sequence[str] | None, search: str | None) -> tuple[str, list]:
        clauses, params = [], []
        if states and tuple(states) == READY:
            clauses.append("state IN ('pending', 'failed')")  # literal, so the partial index jobs_ready applies
        elif states and tuple(states) == ("processing",):
            clauses.append("state = 'processing'")  # literal, so the partial index jobs_running applies
        elif states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        if states and "processing" not in states:
            clauses.append("state != 'processing'")  # literal, so the partial index jobs_state_seq applies
        if search:
            clauses.append("(id LIKE ? ESCAPE '\\' OR command LIKE ? ESCAPE '\\')")
            params.extend([like_pattern(search)] * 2)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_jobs(
        self, states: Sequence[str] | None, limit: int, search: str | None = None, order: str = "created"
    ) -> list[Job]:
        where, params = self._where(states, search)
        if order == "finished" and states and set(states) <= {"completed", "dead"}:
            where += " AND finished_at IS NOT NULL"  # always true for them; lets jobs_finished apply
        # Without stats the planner prefers the state index and sorts every ready job, or walks the
        # whole table for the few processing jobs (jobs_state_seq leaves them out): name the index.
        index = ""
        if order == "claim" and states and tuple(states) == READY:
            index = " INDEXED BY jobs_ready"
        elif states and tuple(states) == ("processing",):
            index = " INDEXED BY jobs_running"
        sql = f"SELECT {JOB_COLUMNS} FROM jobs{index}{where} ORDER BY {ORDERS[order]} LIMIT ?"
        return self._run(lambda c: [job_from_row(r) for r in c.execute(sql, (*params, limit))])

    def count_jobs(self, states: Sequence[str] | None = None, search: str | None = None) -> int:
        if not search:  # from the counters the triggers keep
            found = self.counts()
            return sum(n for state, n in found.items() if states is None or state in states)
        where, params = self._where(states, search)
        return self._run(lambda c: c.execute(f"SELECT count(*) FROM jobs{where}", params).fetchone()[0])

    def counts(self) -> dict[str, int]:
        return self._run(lambda c: dict(c.execute("SELECT state, n FROM job_counts").fetchall()))

    def completed_since(self, since: float) -> int:
        sql = "SELECT count(*) FROM jobs WHERE state = 'completed' AND finished_at >= ?"
        return self._run(lambda c: c.execute(sql, (since,)).fetchone()[0])

    def next_due(self) -> float | None:
        sql = "SELECT min(run_at) FROM jobs WHERE state IN ('pending', 'failed')"
        return self._run(lambda c: c.execute(sql).fetchone()[0])

    # INDEXED BY: without statistics the planner picks jobs(state, ...) and sorts every ready job
    # per claim (O(n)); the partial index walks in claim order and stops at the first due job.
    CLAIM_SQL = f"""
        UPDATE jobs SET state = 'processing', attempts = attempts + 1, worker = ?, started_at = ?,
               updated_at = ?, lease_until = ?, finished_at = NULL, exit_code = NULL, cancel_requested = 0
        WHERE seq = (SELECT seq FROM jobs INDEXED BY jobs_ready
                     WHERE state IN ('pending', 'failed') AND run_at <= ?
                     ORDER BY priority DESC, run_at, seq LIMIT 1)
          AND state IN ('pending', 'failed')
        RETURNING {JOB_COLUMNS}"""

    def _claim(self, conn: sqlite3.Connection, worker_id: str, now: float, lease_until: float) -> Job | None:
        row = conn.execute(self.CLAIM_SQL, (worker_id, now, now, lease_until, now)).fetchone()
        return None if row is None else job_from_row(row)

    def claim(self, worker_id: str, now: float, lease_until: float) -> Job | None:
        return self._run(lambda c: self._claim(c, worker_id, now, lease_until))

    def record_and_claim(
        self, ended: Sequence[Ended], worker_id: str, now: float, lease_until: float, claim: int = 1,
        release: Sequence[tuple[str, int]] = (),
    ) -> tuple[list[bool], list[Job]]:
        def all_in_one(conn: sqlite3.Connection) -> tuple[list[bool], list[Job]]:
            finished = [self._finish(conn, e.job_id, worker_id, e.attempt, e.outcome, None) for e in ended]
            for job_id, attempt in release:
                conn.execute(self.RELEASE_SQL, (now, now, job_id, worker_id, attempt))
            claimed = []
            while len(claimed) < claim and (job := self._claim(conn, worker_id, now, lease_until)) is not None:
                claimed.append(job)
            return finished, claimed

        return self._write(all_in_one)

    def renew_leases(self, worker_ids: Sequence[str], now: float, lease_until: float) -> None:
        if not worker_ids:
            return
        marks = ", ".join("?" * len(worker_ids))

        def renew(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"UPDATE jobs SET lease_until = ? WHERE state = 'processing' AND worker IN ({marks})",
                (lease_until, *worker_ids),
            )
            conn.execute(f"UPDATE workers SET heartbeat_at = ? WHERE id IN ({marks})", (now, *worker_ids))

        self._write(renew)

    def finish(
        self, job_id: str, worker_id: str, attempt: int, outcome: Outcome, lease_seen: float | None = None
    ) -> bool:
        return self._write(lambda c: self._finish(c, job_id, worker_id, attempt, outcome, lease_seen))

    def _finish(self, conn: sqlite3.Connection, job_id: str, worker_id: str, attempt: int, outcome: Outcome,
                lease_seen: float | None) -> bool:
        guard = "id = ? AND worker = ? AND attempts = ? AND state = 'processing'"
        params: list = [job_id, worker_id, attempt]
        if lease_seen is not None:
            guard += " AND lease_until <= ?"
            params.append(lease_seen)
        o = outcome
        cur = conn.execute(
            f"""UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), exit_code = ?, last_error = ?,
                   started_at = coalesce(?, started_at), finished_at = ?, updated_at = ?, lease_until = NULL,
                   cancel_requested = 0
                WHERE {guard}""",
            (o.state, o.run_at, o.exit_code, o.error, o.started_at,
             o.finished_at if o.state in ("completed", "dead") else None, o.finished_at, *params),
        )
        if cur.rowcount != 1:
            return False
        if records_run(o):
            big = len(o.stdout) + len(o.stderr) > BLOB_IN_PLACE
            cur = conn.execute(
                "INSERT INTO runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout, stderr,"
                " stdout_dropped, stderr_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, "
                + ("zeroblob(?), zeroblob(?)" if big else "?, ?") + ", ?, ?)",
                (job_id, attempt, worker_id, o.started_at, o.finished_at, o.exit_code, o.error,
                 *((len(o.stdout), len(o.stderr)) if big else (o.stdout, o.stderr)), o.stdout_dropped, o.stderr_dropped),
            )
            if big:
                write_in_place(conn, cur.lastrowid, {"stdout": o.stdout, "stderr": o.stderr})
        return True

    # A cancel requested meanwhile is honoured: the job ends dead, 'cancelled', as if it was waiting.
    RELEASE_SQL = """UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'dead' WHEN attempts > 1 THEN 'failed'
                                              ELSE 'pending' END,
                            last_error = CASE WHEN cancel_requested THEN 'cancelled' ELSE last_error END,
                            finished_at = CASE WHEN cancel_requested THEN ? END,
                            attempts = attempts - 1, updated_at = ?, worker = NULL, started_at = NULL,
                            lease_until = NULL, cancel_requested = 0
                     WHERE id = ? AND worker = ? AND attempts = ? AND state = 'processing'"""

    def release(self, job_id: str, worker_id: str, attempt: int, now: float) -> bool:
        return self._write(lambda c: c.execute(self.RELEASE_SQL, (now, now, job_id, worker_id, attempt)).rowcount == 1)

    def expired(self, now: float) -> list[Job]:
        # the processing jobs are few: scan them all (no index on lease_until, see schema 4)
        sql = f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_running WHERE state = 'processing' AND lease_until < ?"
        return self._run(lambda c: [job_from_row(r) for r in c.execute(sql, (now,))])

    def requeue_dead(self, job_ids: Sequence[str] | None, now: float) -> list[str]:
        # `state != 'processing'` is implied; written out, it lets the partial index jobs_state_seq apply
        sql = """UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, finished_at = NULL,
                        worker = NULL, lease_until = NULL WHERE state = 'dead' AND state != 'processing'"""

        def requeue(conn: sqlite3.Connection) -> list[str]:
            if job_ids is None:
                return [r[0] for r in conn.execute(sql + " RETURNING id", (now, now))]
            moved = []
            for job_id in job_ids:
                if conn.execute(sql + " AND id = ?", (now, now, job_id)).rowcount:
                    moved.append(job_id)
            return moved

        return self._write(requeue)

    def cancel_waiting(self, job_id: str, now: float) -> bool:
        sql = """UPDATE jobs SET state = 'dead', last_error = 'cancelled', finished_at = ?, updated_at = ?
                 WHERE id = ? AND state IN ('pending', 'failed')"""
        return self._write(lambda c: c.execute(sql, (now, now, job_id)).rowcount == 1)

    def request_cancel(self, job_id: str) -> bool:
        sql = "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'processing'"
        return self._write(lambda c: c.execute(sql, (job_id,)).rowcount == 1)

    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        sql = f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({', '.join('?' * len(job_ids))})"
        return self._run(lambda c: {r[0] for r in c.execute(sql, tuple(job_ids))})

    def prune(self, states: Sequence[str], finished_before: float) -> int:
        marks = ", ".join("?" * len(states))

        def prune(conn: sqlite3.Connection) -> int:
            ids = [r[0] for r in conn.execute(
                f"DELETE FROM jobs WHERE state IN ({marks}) AND finished_at < ? RETURNING id",
                (*states, finished_before),
            )]
            conn.executemany("DELETE FROM runs WHERE job_id = ?", [(i,) for i in ids])
            return len(ids)

        return self._write(prune)

    # settings --------------------------------------------------------------------------------------
    def read_settings(self) -> dict[str, str]:
        return self._run(lambda c: dict(c.execute("SELECT key, value FROM settings").fetchall()))

    def write_setting(self, key: str, value: str) -> None:
        sql = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        self._write(lambda c: c.execute(sql, (key, value)))

    # workers ---------------------------------------------------------------------------------------
    def register_worker(self, info: WorkerInfo) -> None:
        sql = """INSERT OR REPLACE INTO workers (id, host, pid, job_id, started_at, heartbeat_at, stop_requested)
                 VALUES (?, ?, ?, NULL, ?, ?, 0)"""
        self._write(lambda c: c.execute(sql, (info.id, info.host, info.pid, info.started_at, info.heartbeat_at)))

    def remove_worker(self, worker_id: str) -> None:
        self._write(lambda c: c.execute("DELETE FROM workers WHERE id = ?", (worker_id,)))

    def list_workers(self, alive_since: float) -> list[WorkerInfo]:
        # A worker's current job is the processing job that names it: workers do not write their
        # job into this table per job (workers.job_id stays for older writers and is a fallback).
        sql = """SELECT w.id, w.host, w.pid,
                        (SELECT j.id FROM jobs j WHERE j.state = 'processing' AND j.worker = w.id
                         ORDER BY j.started_at DESC LIMIT 1),
                        w.started_at, w.heartbeat_at, w.stop_requested
                 FROM workers w WHERE w.heartbeat_at >= ? ORDER BY w.started_at, w.id"""
        rows = self._run(lambda c: c.execute(sql, (alive_since,)).fetchall())
        return [WorkerInfo(*r[:6], stop_requested=bool(r[6])) for r in rows]

    def request_stop(self, worker_ids: Sequence[str] | None = None) -> list[str]:
        def stop(conn: sqlite3.Connection) -> list[str]:
            if worker_ids is None:
                return [r[0] for r in conn.execute("UPDATE workers SET stop_requested = 1 RETURNING id")]
            marks = ", ".join("?" * len(worker_ids))
            return [r[0] for r in conn.execute(
                f"UPDATE workers SET stop_requested = 1 WHERE id IN ({marks}) RETURNING id", tuple(worker_ids))]

        return self._write(stop)

    def stop_requested(self, worker_ids: Sequence[str]) -> set[str]:
        if not worker_ids:
            return set()
        sql = f"SELECT id FROM workers WHERE stop_requested = 1 AND id IN ({', '.join('?' * len(worker_ids))})"
        return self._run(lambda c: {r[0] for r in c.execute(sql, tuple(worker_ids))})

    # wake-ups --------------------------------------------------------------------------------------
    def notify(self, event: str) -> None:
        self._notifier.notify(event)

    def listener(self) -> Listener:
        return SocketListener(self.path)
