"""Safety on a shared machine, through the engine's API: wake-ups, orphans, database files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core import Queue
from core.wake import PollListener, SocketListener


@pytest.fixture
def short_tmp(monkeypatch):
    """TMPDIR: a fresh folder with a short path; no per-user runtime folder."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="qs-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp / "none"))
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("long_path", [False, True])
def test_wake_ups_reach_a_listener_through_its_own_folder(tmp_path, short_tmp, monkeypatch, long_path):
    if long_path:  # a socket path longer than an AF_UNIX address holds
        deep = short_tmp / ("d" * 100)
        deep.mkdir()
        monkeypatch.setenv("TMPDIR", str(deep))
    db = str(tmp_path / "jobs.db")
    with Queue.open(db) as listening, Queue.open(db) as sending:
        listener = listening.store.listener()
        try:
            assert isinstance(listener, SocketListener)
            assert len(listener.path) > 108 if long_path else True
            sending.enqueue("true")
            assert listener.wait(5) == ["work"]
            folder = Path(listener.path).parent
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700 == stat.S_IMODE(folder.parent.stat().st_mode)
        finally:
            listener.close()
        assert not os.path.exists(listener.path)


def test_a_wake_folder_of_ours_made_by_an_older_version_is_made_0700_and_used(tmp_path, short_tmp):
    mine = short_tmp / f"queuectl-{os.getuid()}"
    mine.mkdir()
    mine.chmod(0o755)  # what makedirs() gave the first level under the usual umask
    with Queue.open(str(tmp_path / "jobs.db")) as q:
        listener = q.store.listener()
        try:
            assert isinstance(listener, SocketListener)
            assert stat.S_IMODE(mine.stat().st_mode) == 0o700
            q.enqueue("true")
            assert listener.wait(5) == ["work"]
        finally:
            listener.close()


def test_a_pool_polls_when_its_wake_folder_is_not_usable(tmp_path, short_tmp, caplog, monkeypatch):
    import core.wake
    from core.pool import Pool

    monkeypatch.setattr(core.wake, "_warned", False)

    (short_tmp / f"queuectl-{os.getuid()}").symlink_to(tmp_path)  # not a folder of ours
    with Queue.open(str(tmp_path / "jobs.db")) as q:
        job = q.enqueue("true")
        pool = Pool(q, 1, burst=True)
        assert isinstance(pool._listener, PollListener)
        pool.start()
        assert pool.join(20)
        assert q.job(job.id).state == "completed"
    warnings = [r for r in caplog.records if r.name.startswith("queuectl") and "wake-ups are off" in r.getMessage()]
    assert len(warnings) == 1, caplog.text  # once per process: the listener's and the notifier's


# --- orphans of a dead worker -----------------------------------------------------------------------


def dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_worker_of_another_pid_namespace_with_this_host_name_is_not_judged_by_this_hosts_pids(tmp_path):
    """Two containers sharing a host name (or two machines with one name) see each other's pids as
    gone: the one whose expired lease a blocked worker had would be taken back at once and run twice.
    A worker id whose token does not start with this place's tag waits for two sightings instead."""
    from core.hosts import place_tag, this_host

    pid = dead_pid()
    elsewhere = "0000" if place_tag() != "0000" else "ffff"
    with Queue.open(str(tmp_path / "jobs.db")) as q:
        for job_id, worker in (("there", f"{this_host()}:{pid}:{elsewhere}abcdef:1"),
                               ("here", f"{this_host()}:{pid}:{place_tag()}abcdef:1")):
            q.enqueue("true", id=job_id)
            now = q.clock.now()
            assert q.store.claim(worker, now, now - 1).id == job_id  # its lease already ran out
        q.enqueue("true", id="older")  # a worker id of a version before the tag: by its pid, as then
        now = q.clock.now()
        assert q.store.claim(f"{this_host()}:{pid}:abcdef:1", now, now - 1).id == "older"
        assert q.recover_expired(lambda expired: ()) == ["here", "older"]  # as a pool's first look: dead here only
        assert q.job("there").state == "processing"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user (nobody)")
def test_taking_back_a_job_stops_only_that_attempts_processes_of_this_user(tmp_path):
    """A job of a dead worker is taken back: its processes are stopped; the same job id and attempt
    run by another worker (another database's), or a process of another user that carries the very
    same variables, are left alone."""
    import pwd
    import subprocess

    from core.hosts import place_tag, this_host
    from tests.helpers import wait_until

    nobody = pwd.getpwnam("nobody").pw_uid
    dead_worker = f"{this_host()}:{dead_pid()}:{place_tag()}abcdef:1"
    with Queue.open(str(tmp_path / "jobs.db")) as q:
        q.enqueue("sleep 60", id="backup")
        now = q.clock.now()
        assert q.store.claim(dead_worker, now, now - 1).id == "backup"  # its lease already ran out

        def start(worker: str, **kw) -> subprocess.Popen:
            env = {"PATH": os.environ["PATH"], "QUEUECTL_JOB_ID": "backup", "QUEUECTL_ATTEMPT": "1",
                   "QUEUECTL_WORKER": worker}
            return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True, **kw)

        orphan = start(dead_worker)
        other_database = start(f"{this_host()}:{os.getpid()}:{place_tag()}123456:1")
        other_user = start(dead_worker, user=nobody, group=nobody)
        try:
            wait_until(lambda: all(os.path.exists(f"/proc/{p.pid}/environ") for p in (orphan, other_user)))
            assert q.recover_expired() == ["backup"]
            assert orphan.wait(10) == -15
            assert other_database.poll() is None and other_user.poll() is None
            assert q.job("backup").state == "failed"
        finally:
            for proc in (orphan, other_database, other_user):
                proc.kill()
                proc.wait()


# --- opening a database -------------------------------------------------------------------------------


def test_open_without_create_needs_the_file_and_makes_nothing(tmp_path):
    from core.errors import StorageError

    with pytest.raises(StorageError, match="no queue database at"):
        Queue.open(str(tmp_path / "x.db"), create=False)
    with pytest.raises(StorageError, match="no folder"):
        Queue.open(str(tmp_path / "missing" / "x.db"))
    assert list(tmp_path.iterdir()) == []
    Queue.open(str(tmp_path / "x.db")).close()
    with Queue.open(str(tmp_path / "x.db"), create=False) as q:
        assert q.counts()["pending"] == 0


def test_the_default_location_gets_its_folders_0700(tmp_path, monkeypatch):
    monkeypatch.delenv("QUEUECTL_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    old = os.umask(0)
    try:
        with Queue.open() as q:
            q.enqueue("true")
    finally:
        os.umask(old)
    db = tmp_path / "data" / "queuectl" / "jobs.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for folder in (db.parent, db.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_pool_refuses_a_read_only_database(tmp_path):
    from core.errors import StorageError
    from core.pool import Pool

    db = tmp_path / "jobs.db"
    Queue.open(str(db)).close()
    with Queue.open(str(db), create=False) as q:
        q.store.read_only = True  # what a file this user cannot write gives (see the CLI tests)
        with pytest.raises(StorageError, match="read-only"):
            Pool(q, 1, burst=True)


def test_a_notifier_finds_a_listener_that_came_after_its_first_wake_up(tmp_path, short_tmp):
    db = str(tmp_path / "jobs.db")
    with Queue.open(db) as sending, Queue.open(db) as listening:
        sending.enqueue("true")  # nobody listens yet: no wake-up folder
        listener = listening.store.listener()
        try:
            sending.enqueue("true")
            assert listener.wait(5) == ["work"]
        finally:
            listener.close()


def test_a_deleted_database_is_never_made_anew_by_a_later_connection(tmp_path):
    """A connection opened after the file went (a busy pool opens one more) must not make an empty
    database at the path: reads on it failed with 'no such table', and a worker whose heartbeat hit
    that first never saw the file was gone, and never stopped."""
    from core.errors import StorageError

    db = tmp_path / "jobs.db"
    q = Queue.open(str(db))
    q.enqueue("true")
    for name in tmp_path.glob("jobs.db*"):
        name.unlink()
    q.store._close_idle()  # the pooled connections are busy elsewhere: the next call opens one
    with pytest.raises(StorageError, match="was deleted while in use"):
        q.counts()
    assert not list(tmp_path.glob("jobs.db*"))
    q.close()
