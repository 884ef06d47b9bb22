"""What only the PostgreSQL backend has: worker processes sharing one server, a server restart under
load, LISTEN/NOTIFY pickup, the schema option, connection errors, and the lazy driver import."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import BIN, clean_env
from tests.helpers import finish_and_claim, wait_until
from core import Queue
from core.errors import StorageError


@pytest.fixture
def pg_db(pg_server) -> str:
    return pg_server.url(schema=f"t_{uuid.uuid4().hex[:12]}")


def queuectl(db: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "queuectl"), "--db", db, *args], capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), stdin=subprocess.DEVNULL)


class Workers:
    """`queuectl worker start` processes, stopped (then killed) at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, db: str, count: int = 2, *extra: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "worker", "start", "--count", str(count), *extra],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(tmp_path: Path):
    w = Workers(tmp_path)
    yield w
    w.stop()


def marker_jobs(marker: Path, n: int, work: str = "") -> list[dict]:
    return [{"command": f"{work}echo job-{i} >> {marker}", "id": f"job-{i}"} for i in range(n)]


def assert_each_ran_once(marker: Path, n: int) -> None:
    ran = collections.Counter(marker.read_text().split())
    assert sorted(ran) == sorted(f"job-{i}" for i in range(n))
    assert {k: v for k, v in ran.items() if v != 1} == {}


def test_worker_processes_share_one_database(pg_db: str, workers: Workers, tmp_path: Path):
    marker = tmp_path / "marker"
    n = 120
    with Queue.open(pg_db) as q:
        q.set_setting("poll-interval", 0.2)
        q.enqueue_many(marker_jobs(marker, n))
        for _ in range(3):
            workers.start(pg_db, 2)
        wait_until(lambda: q.counts()["completed"] == n, 90, what=f"{n} completed jobs")
        assert q.counts() == {"pending": 0, "processing": 0, "completed": n, "failed": 0, "dead": 0}
        by_worker = collections.Counter(j.worker.rsplit(":", 2)[0] for j in q.jobs("completed", limit=n))
    assert_each_ran_once(marker, n)
    assert len(by_worker) >= 2, f"one process took every job: {by_worker}"


def test_server_restart_while_workers_run(pg_server, pg_db: str, workers: Workers, tmp_path: Path):
    marker = tmp_path / "marker"
    n = 80
    with Queue.open(pg_db) as q:
        q.set_setting("poll-interval", 0.2)
        q.enqueue_many(marker_jobs(marker, n, work="sleep 0.05; "))
        workers.start(pg_db, 2)
        workers.start(pg_db, 2)
        for mode, after in (("fast", 10), ("immediate", 40)):  # a clean restart, then a crash
            wait_until(lambda: marker.exists() and len(marker.read_text().split()) >= after, 60, what=f"{after} jobs")
            pg_server.restart(mode)
        wait_until(lambda: q.counts()["completed"] == n, 120, interval=0.2, what=f"all {n} jobs completed after the restart")
        assert q.counts() == {"pending": 0, "processing": 0, "completed": n, "failed": 0, "dead": 0}
        assert all(j.attempts == 1 and len(j.runs) == 1 for j in (q.job(f"job-{i}") for i in range(n)))
        assert all(p.poll() is None for p in workers.procs), "a worker process died:\n" + workers.logs()
    assert_each_ran_once(marker, n)
    logs = workers.logs()
    assert "retrying" in logs or "lost" in logs  # they noticed, and went on


def test_wait_and_follow_ride_out_a_server_outage(pg_server, pg_db: str, workers: Workers):
    """Their exit code says how the job ended: a server down for a few seconds (less than
    lease-timeout) is ridden out, as the workers ride it out, not an exit 1."""
    with Queue.open(pg_db) as q:
        q.set_setting("poll-interval", 0.2)
        job = q.enqueue("echo one; sleep 4; echo two", max_retries=0)
        workers.start(pg_db, 1)
        wait_until(lambda: q.job(job.id, runs=False).state == "processing", 30, what="the job to start")
        watchers = [subprocess.Popen([str(BIN / "queuectl"), "--db", pg_db, *args, job.id], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=clean_env())
                    for args in (["wait"], ["logs", "--follow"])]
        time.sleep(0.5)  # both are watching
        pg_server.outage(3)
        results = [w.communicate(timeout=60) + (w.returncode,) for w in watchers]
        assert q.job(job.id, runs=False).state == "completed"
    (waited, wait_err, wait_code), (followed, follow_err, follow_code) = results
    assert (wait_code, waited.split()) == (0, [job.id, "completed"]), wait_err
    assert (follow_code, followed.split()) == (0, ["one", "two"]), follow_err


@pytest.mark.parametrize("count", [1, 2])
def test_a_burst_worker_rides_out_a_server_outage(pg_server, pg_db: str, count: int):
    """What `worker start --burst` says while it waits reads the database too: during an outage it
    is left unsaid, never an exit 1 (that left the running job in processing, with --count 1)."""
    with Queue.open(pg_db) as q:
        ids = [q.enqueue("sleep 2").id for _ in range(2 * count)]
        worker = subprocess.Popen([str(BIN / "queuectl"), "--db", pg_db, "worker", "start", "--burst",
                                   "--count", str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=clean_env())
        wait_until(lambda: q.counts()["processing"] == count, 30, what="the jobs to start")
        pg_server.outage(3)
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        assert [(q.job(i, runs=False).state, q.job(i, runs=False).attempts) for i in ids] == [("completed", 1)] * len(ids)


def test_pickup_is_woken_by_notify_not_by_polling(pg_db: str, workers: Workers):
    with Queue.open(pg_db) as q:
        q.set_setting("poll-interval", 5)
        workers.start(pg_db, 1)
        wait_until(lambda: q.workers(), 30, what="the worker to register")
        time.sleep(0.5)  # let it fall asleep for its 5 s poll
        latencies = []
        for n in range(3):
            job = q.enqueue("true")
            started = wait_until(lambda: q.job(job.id, runs=False).started_at, 4, interval=0.01, what="the job to start")
            latencies.append(started - job.created_at)
            wait_until(lambda: q.job(job.id, runs=False).state == "completed", 10, what="the job to finish")
            time.sleep(0.3)
    assert max(latencies) < 1.5, latencies


def test_a_job_due_later_is_picked_up_when_due(pg_db: str, workers: Workers):
    with Queue.open(pg_db) as q:
        q.set_setting("poll-interval", 30)
        workers.start(pg_db, 1)
        wait_until(lambda: q.workers(), 30, what="the worker to register")
        job = q.enqueue("true", delay=1.5)
        started = wait_until(lambda: q.job(job.id, runs=False).started_at, 10, what="the delayed job to start")
    assert job.run_at <= started < job.run_at + 2.0


def test_schema_option_keeps_queues_apart(pg_server):
    a = pg_server.url(schema=f"a_{uuid.uuid4().hex[:8]}")
    b = pg_server.url(schema=f"b_{uuid.uuid4().hex[:8]}")
    assert queuectl(a, "enqueue", '{"command": "true", "id": "only-in-a"}').returncode == 0
    assert queuectl(b, "show", "only-in-a").returncode == 1
    assert queuectl(a, "show", "only-in-a").returncode == 0
    with Queue.open(b) as q:
        assert q.store.schema.startswith("b_") and q.count() == 0


def test_default_schema_is_queuectl(pg_server):
    import psycopg

    with Queue.open(pg_server.url()) as q:
        assert q.store.schema == "queuectl"
        q.count()
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'queuectl'")}
        version = conn.execute("SELECT value FROM queuectl.meta WHERE key = 'schema_version'").fetchone()[0]
    from core.pg_store import SCHEMA_VERSION

    assert tables == {"jobs", "runs", "settings", "workers", "meta", "finished_gone", "schedules", "deps", "queues",
                      "live", "job_counts", "hooks_due"}
    assert version == str(SCHEMA_VERSION)


def test_many_processes_create_the_schema_at_once(pg_db: str):
    procs = [subprocess.Popen([str(BIN / "queuectl"), "--db", pg_db, "status", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=clean_env()) for _ in range(6)]
    results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0] * 6, [r[1] for r in results]


def test_newer_schema_is_refused(pg_db: str):
    import psycopg

    Queue.open(pg_db).close()
    schema = pg_db.rsplit("schema=", 1)[1]
    with psycopg.connect(pg_db.split("?")[0], autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.meta SET value = '99' WHERE key = 'schema_version'")
    result = queuectl(pg_db, "status")
    assert result.returncode == 1
    assert "schema version 99, newer than this queuectl" in result.stderr


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:1/postgres", "error: cannot connect to postgresql://postgres@127.0.0.1:1/postgres"),
    ("postgresql://u:secret@127.0.0.1:1/db", "error: cannot connect to postgresql://u:***@127.0.0.1:1/db"),
    ("postgresql://127.0.0.1:notaport/db", "error: cannot connect to"),
    ("postgresql://127.0.0.1/db?schema=Bad-Name", "error: invalid schema name 'Bad-Name'"),
    ("postgresql://127.0.0.1/db?nosuchoption=1", "error: cannot connect to"),
])
def test_unusable_url_is_one_line_exit_1(url: str, message: str):
    result = queuectl(url, "status")
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "secret" not in result.stderr


def test_unknown_database_is_one_line_exit_1(pg_server):
    result = queuectl(pg_server.url("nosuchdb"), "status")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert 'database "nosuchdb" does not exist' in result.stderr


def test_counts_kept_by_triggers_agree_with_the_jobs_through_workers_folds_and_prunes(pg_db: str, workers):
    """Counts come from job_counts (rows of +n/-n summed up by fold_job_counts), not from a scan of the
    jobs: three worker processes and a fourth folding all the while must leave them exact."""
    import psycopg

    def read(sql: str) -> list[tuple]:
        with psycopg.connect(pg_db.split("?")[0], autocommit=True) as conn:
            conn.execute(f"SET search_path TO {q.store.schema}")
            return conn.execute(sql).fetchall()

    def truth() -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for queue, state, n in read("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"):
            found.setdefault(queue, {})[state] = n
        return found

    q = Queue.open(pg_db)
    try:
        q.enqueue_many([{"command": "true" if i % 4 else "false", "queue": f"q{i % 3}", "max_retries": 0}
                        for i in range(900)])
        assert q.store.queue_counts() == truth() == {f"q{i}": {"pending": 300} for i in range(3)}
        procs = [workers.start(pg_db, 2, "--burst") for _ in range(3)]
        folder = subprocess.Popen([sys.executable, "-c", (
            "import sys, time; from core import Queue; q = Queue.open(sys.argv[1])\n"
            "for _ in range(300): q.store.fold_counts(); time.sleep(0.01)\n"
            "q.close()"), pg_db], env=clean_env())
        assert [p.wait(120) for p in procs] == [0, 0, 0], workers.logs()
        assert folder.wait(60) == 0
        assert q.store.queue_counts() == truth()
        assert read("SELECT count(*) FROM job_counts")[0][0] < 2 * 900  # folded meanwhile: 4 rows a job otherwise
        assert q.counts()["completed"] == 675 and q.counts()["dead"] == 225
        q.store.fold_counts()
        q.prune("completed", 0)
        q.store.fold_counts()
        assert q.store.queue_counts() == truth() == {f"q{i}": {"dead": 75} for i in range(3)}
        assert q.store.finished_totals() == {**{(f"q{i}", "completed"): 225 for i in range(3)},
                                             **{(f"q{i}", "dead"): 75 for i in range(3)}}
        with psycopg.connect(pg_db.split("?")[0], autocommit=True) as conn:  # psql's search_path, not ours
            conn.execute(f"DELETE FROM {q.store.schema}.jobs WHERE queue = 'q0'")
        assert q.store.queue_counts() == truth() == {f"q{i}": {"dead": 75} for i in (1, 2)}
    finally:
        q.close()


def test_a_server_error_is_its_primary_message_on_one_short_line(pg_server):
    """Not its DETAIL, HINT or CONTEXT: the CONTEXT of an error in nested triggers repeats a statement
    per level, and one such message once filled a worker's log with a line of megabytes."""
    import psycopg

    from core.pg_store import MESSAGE_CHARS, one_line

    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        for text in ("boom", "x" * 5000):
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(f"DO $$ BEGIN RAISE EXCEPTION '{text}' USING DETAIL = 'd', HINT = 'h'; END $$")
            line = one_line(caught.value)
            assert line == text if text == "boom" else (len(line) == MESSAGE_CHARS and line.endswith("..."))


def test_lost_connection_is_a_storage_error_then_reconnects(pg_server, pg_db: str):
    import psycopg

    with Queue.open(pg_db) as q:
        q.enqueue("true", id="j")
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'queuectl' AND pid <> pg_backend_pid()")
        with pytest.raises(StorageError, match="lost the connection"):  # a write is not retried blindly
            q.store.claim("w", time.time(), time.time() + 30)
        assert q.store.claim("w", time.time(), time.time() + 30).id == "j"  # the next call reconnects
        admin_kill(pg_server)
        assert q.job("j").state == "processing"  # a read is retried at once


def admin_kill(pg_server) -> None:
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'queuectl' AND pid <> pg_backend_pid()")


def test_a_workers_job_is_read_from_the_jobs_table(pg_db: str):
    from core.models import WorkerInfo

    with Queue.open(pg_db) as q:
        now = time.time()
        q.store.register_worker(WorkerInfo("w", "host", 1, None, now, now))
        q.enqueue("true", id="held")
        assert q.store.claim("w", time.time(), time.time() + 30).id == "held"
        assert [w.job_id for w in q.workers()] == ["held"]


def test_sqlite_path_never_imports_psycopg(tmp_path: Path):
    code = (
        "import sys\n"
        "from queuectl_tui.cli import run\n"
        "from core import Queue\n"
        f"Queue.open({str(tmp_path / 'jobs.db')!r}).close()\n"  # status reads: the file must exist
        f"code = run(['--db', {str(tmp_path / 'jobs.db')!r}, 'status', '--json'], 'queuectl', tui=False)\n"
        "assert code == 0, code\n"
        "leaked = sorted(m for m in sys.modules if m.startswith(('psycopg', 'core.pg_store')))\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr


def test_finish_and_claim_is_one_transaction_in_one_round_trip(pg_db: str, tmp_path: Path):
    """PostgresStore overrides record_and_claim (finish_and_claim is one finish and one claim of it):
    BEGIN, the guarded finishes, the releases, the claims and COMMIT go out together with one Sync
    (libpq's protocol trace shows it); if a claim fails, the finish is rolled back with it."""
    from core.store import Ended, Outcome, Store

    with Queue.open(pg_db) as q:
        assert type(q.store).record_and_claim is not Store.record_and_claim
        q.enqueue_many([{"command": "true", "id": "a"}, {"command": "true", "id": "b"}])
        now = time.time()
        assert q.store.claim("w", now, now + 30).id == "a"
        done = Outcome("completed", None, 0, None, now, now)
        with pytest.raises(StorageError, match="database error"):  # the claim's lease is not a number
            finish_and_claim(q.store, "a", "w", 1, done, now, "not a time")
        a = q.job("a")
        assert (a.state, a.worker, len(a.runs), q.job("b").state) == ("processing", "w", 0, "pending")
        conn, _ = q.store._take()
        q.store._give_back(conn)
        trace = tmp_path / "trace"
        with open(trace, "w") as sink:
            conn.pgconn.trace(sink.fileno())
            try:
                finished, nxt = finish_and_claim(q.store, "a", "w", 1, done, now, now + 30)
            finally:
                conn.pgconn.untrace()
        sent = [line.split("\t")[3] for line in trace.read_text().splitlines() if "\tF\t" in line]
        # BEGIN, finish, the limited queues' lock (see README, "Queue limits"), claim, COMMIT
        assert sent.count("Sync") == 1 and sent.count("Execute") == 5, sent
        assert (finished, nxt.id) == (True, "b")
        assert [r.attempt for r in q.job("a").runs] == [1]
        # a chain: two ended attempts, one claim given back, two claims, still one round trip
        q.enqueue_many([{"command": "true", "id": i} for i in ("c", "d", "e")])
        now = time.time()
        assert q.store.claim("w", now, now + 30).id == "c"
        with open(trace, "w") as sink:
            conn.pgconn.trace(sink.fileno())
            try:
                finished, claimed, cancelled = q.store.record_and_claim(
                    [Ended("a", 1, done), Ended("b", 1, done)], "w", now, now + 30, claim=2, release=[("c", 1)])
            finally:
                conn.pgconn.untrace()
        sent = [line.split("\t")[3] for line in trace.read_text().splitlines() if "\tF\t" in line]
        assert sent.count("Sync") == 1 and sent.count("Execute") == 8, sent
        assert finished == [False, True] and cancelled == []  # a was recorded above: no longer this worker's
        assert [j.id for j in claimed] == ["c", "d"]  # c given back first, then claimed again
        assert (q.job("c").attempts, q.job("e").state) == (1, "pending")


def test_finish_and_claim_skips_jobs_locked_by_another_claim(pg_server, pg_db: str):
    import psycopg

    from core.store import Outcome

    with Queue.open(pg_db) as q:
        q.enqueue_many([{"command": "true", "id": i, "priority": p} for i, p in (("a", 9), ("b", 5), ("c", 1))])
        now = time.time()
        assert q.store.claim("w", now, now + 30).id == "a"
        schema = q.store.schema
        with psycopg.connect(pg_server.url()) as other:  # another worker's claim, not yet committed
            other.execute(f'SELECT 1 FROM "{schema}".jobs WHERE id = %s FOR UPDATE', ("b",))
            finished, nxt = finish_and_claim(q.store, "a", "w", 1, Outcome("completed", None, 0, None, now, now),
                                                     now, now + 30)
            assert (finished, nxt.id) == (True, "c")  # no wait on the locked row
            other.rollback()
        assert q.store.claim("w", now, now + 30).id == "b"


def test_finish_and_claim_on_a_lost_connection_is_not_retried(pg_server, pg_db: str):
    from core.store import Outcome

    with Queue.open(pg_db) as q:
        q.enqueue_many([{"command": "true", "id": "a"}, {"command": "true", "id": "b"}])
        now = time.time()
        q.store.claim("w", now, now + 30)
        done = Outcome("completed", None, 0, None, now, now)
        admin_kill(pg_server)
        with pytest.raises(StorageError, match="lost the connection"):
            finish_and_claim(q.store, "a", "w", 1, done, now, now + 30)
        assert (q.job("a").state, q.job("b").state) == ("processing", "pending")  # nothing was written
        assert finish_and_claim(q.store, "a", "w", 1, done, now, now + 30)[1].id == "b"  # reconnected


def test_a_claim_waits_for_a_claim_of_a_limited_queue_not_yet_committed(pg_server, pg_db: str):
    """Issue 13: two hosts claim from a queue with a limit of 1 at the same moment. The second claim's
    snapshot cannot see the first's uncommitted claim (and SKIP LOCKED skips its row), so without the
    queue row's lock it would take a second job. With it, it waits for the first to commit, then
    counts that claim and takes nothing."""
    import threading

    import psycopg

    from core.sql import POSTGRES

    with Queue.open(pg_db) as q:
        q.enqueue_many([{"command": "true", "id": f"g{i}", "queue": "gpu"} for i in range(3)])
        q.set_queue_limit("gpu", 1)
        now = time.time()
        with psycopg.connect(pg_server.url()) as first:  # another host's claim transaction, open
            first.execute("SELECT set_config('search_path', %s, false)", (f'"{q.store.schema}"',))
            first.execute(POSTGRES["lock_limited"].replace("{served}", ""))
            claim, pick = q.store._claim_sql(False, None, now)
            assert first.execute(claim, ("w1", now, now, now + 30, *pick, "w1")).fetchone()[0] == "g0"
            got: list = []
            second = threading.Thread(target=lambda: got.append(q.store.claim("w2", now, now + 30)))
            second.start()
            second.join(1.0)
            assert second.is_alive() and got == []  # waiting for the first claim's transaction
            first.commit()
        second.join(10)
        assert got == [None]
        assert [(j.id, j.state) for j in q.jobs(queue="gpu", order="claim")] == [
            ("g0", "processing"), ("g1", "pending"), ("g2", "pending")]


def test_a_socket_url_with_requirepeer_refuses_a_socket_of_another_user(pg_server):
    """README, "On a machine shared with other users": in a folder others may write, requirepeer
    makes libpq refuse a socket that someone else put there; queuectl passes it through."""
    import pwd

    owner = pwd.getpwuid(os.stat(Path(pg_server.root) / f".s.PGSQL.{pg_server.port}").st_uid).pw_name
    socket_url = f"postgresql://postgres@/postgres?host={pg_server.root}&port={pg_server.port}&requirepeer="
    assert queuectl(socket_url + owner, "status").returncode == 0
    refused = queuectl(socket_url + owner + "x", "status")
    assert refused.returncode == 1 and "requirepeer" in refused.stderr and len(refused.stderr.splitlines()) == 1
