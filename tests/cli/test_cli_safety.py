"""Safety on a shared machine: what another local user can prepare (folders in /tmp, symlinks, files
next to a database) must not turn the queue against its owner. Real `queuectl` processes, real files.

Tests that need another user run as root and use `nobody` as that user (os.chown), or drop the
capabilities that let root ignore file permissions; elsewhere they skip with the reason."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, clean_env
from tests.helpers import lines

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (chown to nobody)")


@pytest.fixture(scope="session")
def other_uid() -> int:
    """The uid of another, unprivileged user on this machine."""
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user 'nobody' to play the other user")


def drop_file_capabilities() -> None:
    """In a root child: lose the capabilities that let root ignore file permissions, so that it
    meets another user's files as an ordinary user would."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_CAPBSET_DROP = 24
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")


def digest(db: Path) -> str:
    """The name of a database's wake-up folder (README: Safety on a shared machine)."""
    return hashlib.sha256(os.path.realpath(db).encode()).hexdigest()[:16]


@pytest.fixture
def shared_tmp():
    """A private stand-in for /tmp (world-writable, sticky), so other test runs are not disturbed;
    with a short path, as /tmp has, so socket names fit in an AF_UNIX address."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="qs-", dir="/tmp"))
    tmp.chmod(0o1777)
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """TMPDIR is `tmp`; no per-user runtime folder, so the wake-up folder is made under `tmp`."""
    return clean_env(TMPDIR=str(tmp), XDG_RUNTIME_DIR=str(tmp / "no-such-runtime-dir"), **extra)


def queuectl(db, *args, env=None, preexec_fn=None, timeout=60, input=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "queuectl"), "--db", str(db), *args], capture_output=True, text=True,
                          env=env or clean_env(), timeout=timeout, preexec_fn=preexec_fn, input=input)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


def wake_warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "wake-ups are off" in line]


def enqueue_markers(db: Path, marker: Path, n: int, env: dict) -> None:
    jobs = "".join(json.dumps({"command": f"echo {i} >> {marker}"}) + "\n" for i in range(n))
    result = queuectl(db, "enqueue", "-", env=env, input=jobs)
    assert result.returncode == 0, result.stderr
    no_traceback(result)


# --- the wake-up folder ---------------------------------------------------------------------------


def precious_folder(tmp_path: Path) -> Path:
    """A folder of the owner's, full of regular files, some named like wake-up sockets."""
    precious = tmp_path / "precious"
    precious.mkdir()
    for name in ("thesis.tex", "1234-deadbeef.sock", "notes"):
        (precious / name).write_text(name)
    return precious


@ROOT_ONLY
def test_a_symlink_planted_by_another_user_as_the_wake_folder_deletes_nothing(tmp_path, shared_tmp, other_uid):
    tmp, db, precious = shared_tmp, tmp_path / "jobs.db", precious_folder(tmp_path)
    # another user: mkdir /tmp/queuectl-UID; ln -s ~owner/precious /tmp/queuectl-UID/DIGEST
    planted = tmp / f"queuectl-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)
    os.symlink(precious, planted / digest(db))
    for path in (planted, planted / digest(db)):
        os.chown(path, other_uid, other_uid, follow_symlinks=False)
    env = env_for(tmp)
    for _ in range(2):
        result = queuectl(db, "enqueue", '{"command": "true"}', env=env)
        assert sorted(p.name for p in precious.iterdir()) == ["1234-deadbeef.sock", "notes", "thesis.tex"]
        assert result.returncode == 0, result.stderr
        no_traceback(result)
        assert len(wake_warnings(result.stderr)) == 1, result.stderr
        assert str(planted) in result.stderr
    assert os.path.islink(planted / digest(db))  # what another user made is left as it is


def test_a_symlink_in_the_owners_own_wake_folder_is_not_followed(tmp_path, shared_tmp):
    tmp, db, precious = shared_tmp, tmp_path / "jobs.db", precious_folder(tmp_path)
    mine = tmp / f"queuectl-{os.getuid()}"
    mine.mkdir(mode=0o700)
    os.symlink(precious, mine / digest(db))
    result = queuectl(db, "enqueue", '{"command": "true"}', env=env_for(tmp))
    assert sorted(p.name for p in precious.iterdir()) == ["1234-deadbeef.sock", "notes", "thesis.tex"]
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert len(wake_warnings(result.stderr)) == 1, result.stderr


def test_only_stale_sockets_of_the_owner_are_removed_from_the_wake_folder(tmp_path, shared_tmp):
    tmp, db = shared_tmp, tmp_path / "jobs.db"
    folder = tmp / f"queuectl-{os.getuid()}" / digest(db)
    folder.mkdir(mode=0o700, parents=True)
    folder.parent.chmod(0o700)
    for name in ("99-abcdef01.sock", "notes", "99-zz.sock"):  # files, one named like a socket
        (folder / name).write_text("keep")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # a listener that died without cleaning up
    fd = os.open(folder, os.O_RDONLY)
    try:
        stale.bind(f"/proc/self/fd/{fd}/98-0123abcd.sock")  # the path itself is too long for AF_UNIX
    finally:
        os.close(fd)
        stale.close()
    os.mkdir(folder / "97-00ff.sock")  # a folder named like a socket
    result = queuectl(db, "enqueue", '{"command": "true"}', env=env_for(tmp))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(p.name for p in folder.iterdir()) == ["97-00ff.sock", "99-abcdef01.sock", "99-zz.sock", "notes"]


def test_wake_folders_are_made_0700_whatever_the_umask(tmp_path, shared_tmp):
    tmp, db, marker = shared_tmp, tmp_path / "jobs.db", tmp_path / "marker"
    env = env_for(tmp)
    enqueue_markers(db, marker, 3, env)
    result = queuectl(db, "worker", "start", "--burst", env=env, preexec_fn=lambda: os.umask(0))
    assert result.returncode == 0, result.stderr
    assert sorted(lines(marker)) == ["0", "1", "2"]
    mine = tmp / f"queuectl-{os.getuid()}"
    for folder in (mine, mine / digest(db)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert folder.stat().st_uid == os.geteuid()


def test_the_per_user_runtime_folder_is_preferred(tmp_path, shared_tmp):
    tmp, db, marker = shared_tmp, tmp_path / "jobs.db", tmp_path / "marker"
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = clean_env(TMPDIR=str(tmp), XDG_RUNTIME_DIR=str(runtime))
    enqueue_markers(db, marker, 2, env)
    result = queuectl(db, "worker", "start", "--burst", env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(lines(marker)) == ["0", "1"]
    assert (runtime / "queuectl" / digest(db)).is_dir()
    assert not (tmp / f"queuectl-{os.getuid()}").exists()


# --- workers start whatever the wake-up folder is ----------------------------------------------------


def run_workers_and_check(db: Path, env: dict, count: int, tmp_path: Path, warnings: int | None,
                          preexec_fn=None) -> None:
    marker = tmp_path / f"marker-{count}"
    enqueue_markers(db, marker, 6, env)
    result = queuectl(db, "worker", "start", "--burst", "--count", str(count), env=env, timeout=60,
                      preexec_fn=preexec_fn)
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert sorted(lines(marker)) == [str(i) for i in range(6)]
    if warnings is not None:  # one line per worker process at most
        assert 1 <= len(wake_warnings(result.stderr)) <= warnings, result.stderr


@ROOT_ONLY
@pytest.mark.parametrize("count", [1, 2])
def test_workers_poll_when_another_user_made_the_wake_folder(tmp_path, shared_tmp, other_uid, count):
    tmp, db = shared_tmp, tmp_path / "jobs.db"
    squatted = tmp / f"queuectl-{os.getuid()}"  # another user: mkdir -m 700 /tmp/queuectl-UID
    squatted.mkdir(mode=0o700)
    os.chown(squatted, other_uid, other_uid)
    # the workers run as root without the capabilities that let root enter any folder, as the owner would
    run_workers_and_check(db, env_for(tmp), count, tmp_path, warnings=count, preexec_fn=drop_file_capabilities)
    assert list(squatted.iterdir()) == []


@pytest.mark.parametrize("count", [1, 2])
def test_workers_run_with_a_temp_folder_too_long_for_a_socket_name(tmp_path, count):
    tmp = tmp_path / ("t" * max(1, 95 - len(str(tmp_path)) - 1))
    tmp.mkdir()
    tmp.chmod(0o1777)
    assert len(str(tmp)) >= 95
    run_workers_and_check(tmp_path / "jobs.db", env_for(tmp), count, tmp_path, warnings=None)


# --- orphans: a dead worker's job processes, and nobody else's ----------------------------------------


def test_taking_back_a_job_never_stops_the_same_job_of_another_database(tmp_path):
    """Two databases each with a job `backup`, a worker on each; A's worker is SIGKILLed and another
    A worker takes A's job back: A's orphan is stopped, B's healthy job runs on untouched."""
    import signal

    from tests.helpers import kill_quietly, pid_alive, read_pid, wait_until

    started: list[subprocess.Popen] = []

    def worker(db: Path) -> subprocess.Popen:
        log = open(tmp_path / f"{db.stem}-{len(started)}.log", "wb")
        started.append(subprocess.Popen([str(BIN / "queuectl"), "--db", str(db), "worker", "start"],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        env=clean_env()))
        return started[-1]

    dbs = {name: tmp_path / f"{name}.db" for name in "AB"}
    pids = {name: tmp_path / f"{name}.pid" for name in "AB"}
    flag = tmp_path / "A.flag"
    for name, db in dbs.items():
        for key, value in (("poll-interval", "0.1"), ("lease-timeout", "1"), ("backoff-base", "0")):
            assert queuectl(db, "config", "set", key, value).returncode == 0
        # A's first attempt hangs (its worker will die), its retry ends at once; B's job runs long
        hang = f"sleep 60 & echo $! > {pids[name]}; wait"
        command = f"if [ ! -e {flag} ]; then touch {flag}; {hang}; fi" if name == "A" else hang
        job = json.dumps({"id": "backup", "command": command, "max_retries": 2})
        assert queuectl(db, "enqueue", job).returncode == 0
    orphans = {}
    try:
        doomed, healthy = worker(dbs["A"]), worker(dbs["B"])
        orphans = {name: read_pid(pids[name]) for name in "AB"}
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        worker(dbs["A"])  # takes A's job back once the lease has run out, and stops its orphan
        wait_until(lambda: not pid_alive(orphans["A"]), timeout=30, what="A's orphan to be stopped")
        wait_until(lambda: json.loads(queuectl(dbs["A"], "show", "backup", "--json").stdout)["state"] == "completed",
                   timeout=30, what="A's job to be retried")
        assert pid_alive(orphans["B"]), "B's job was killed by A's recovery"
        shown = json.loads(queuectl(dbs["B"], "show", "backup", "--json").stdout)
        assert (shown["state"], shown["attempts"], shown["runs"]) == ("processing", 1, [])
        assert healthy.poll() is None
    finally:
        for pid in orphans.values():
            kill_quietly(pid)
        for proc in started:
            kill_quietly(proc.pid)
            proc.wait()


# --- the database files ----------------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    no_traceback(result)
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def make_db(db: Path) -> None:
    """A queue database with one job that ran, closed cleanly (SQLite then removes its -wal and -shm)."""
    for args in (["enqueue", '{"id": "kept", "command": "echo out"}'], ["worker", "start", "--burst"]):
        result = queuectl(db, *args)
        assert result.returncode == 0, result.stderr
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


READING = [["status"], ["list"], ["show", "kept"], ["logs", "kept"], ["dlq", "list"], ["config", "get", "max-retries"],
           ["config", "list"]]
WRITING = [["enqueue", '{"command": "true"}'], ["worker", "start", "--burst"], ["config", "set", "max-retries", "1"]]


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_companion_file_writable_by_others_is_refused(tmp_path, suffix):
    db = tmp_path / "jobs.db"
    make_db(db)
    planted = Path(f"{db}{suffix}")  # another user: touch /tmp/vq.db-wal; chmod 666 (to read the commands)
    planted.touch()
    planted.chmod(0o666)
    for args in (["enqueue", '{"command": "echo secret"}'], ["status"]):
        one_line_error(queuectl(db, *args), str(planted), "writable by other users")
    assert planted.stat().st_size == 0 and stat.S_IMODE(planted.stat().st_mode) == 0o666


@ROOT_ONLY
@pytest.mark.parametrize("which", ["", "-wal", "-shm", "-journal"])
def test_a_database_file_of_another_user_is_refused(tmp_path, other_uid, which):
    db = tmp_path / "jobs.db"
    make_db(db)
    target = Path(f"{db}{which}")
    target.touch()
    target.chmod(0o600)
    os.chown(target, other_uid, other_uid)
    for args in (["enqueue", '{"command": "echo secret"}'], ["status"]):
        one_line_error(queuectl(db, *args), str(target), "another user")


def test_a_database_writable_by_others_is_refused(tmp_path):
    db = tmp_path / "jobs.db"
    make_db(db)
    db.chmod(0o664)
    one_line_error(queuectl(db, "enqueue", '{"command": "true"}'), str(db), "writable by other users")
    db.chmod(0o644)  # readable by others is the owner's choice
    assert queuectl(db, "status").returncode == 0


def test_a_folder_writable_by_others_is_refused_unless_sticky(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    db = folder / "jobs.db"
    make_db(db)
    folder.chmod(0o777)  # anyone may swap the files in it
    one_line_error(queuectl(db, "status"), str(folder), "writable by other users")
    one_line_error(queuectl(db, "enqueue", '{"command": "true"}'), str(folder))
    folder.chmod(0o1777)  # like /tmp: nobody else may remove or rename our files
    result = queuectl(db, "enqueue", '{"command": "true"}')
    assert result.returncode == 0, result.stderr


@ROOT_ONLY
def test_a_folder_or_symlink_of_another_user_is_refused(tmp_path, other_uid):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, other_uid, other_uid)
    one_line_error(queuectl(folder / "jobs.db", "enqueue", '{"command": "true"}'), str(folder), "another user")
    assert list(folder.iterdir()) == []
    mine = tmp_path / "mine.db"
    make_db(mine)
    link = tmp_path / "link.db"  # another user: ln -s ~owner/mine.db /tmp/link.db
    link.symlink_to(mine)
    os.chown(link, other_uid, other_uid, follow_symlinks=False)
    one_line_error(queuectl(link, "status"), str(link), "symbolic link")


@ROOT_ONLY
def test_a_link_of_another_user_anywhere_on_the_way_is_refused(tmp_path, other_uid):
    """Not only the path's own link: one it leads through, or one standing for a folder. Another
    user could point it at a database of theirs between the check and SQLite's open, and read the
    commands enqueued there (issue found in session 9's review)."""
    mine = tmp_path / "mine.db"
    make_db(mine)
    theirs = tmp_path / "theirs-link"  # another user: ln -s ~owner/mine.db /tmp/theirs-link
    theirs.symlink_to(mine)
    os.chown(theirs, other_uid, other_uid, follow_symlinks=False)
    mine_link = tmp_path / "q.db"  # the owner: ln -s /tmp/theirs-link ~/q.db
    mine_link.symlink_to(theirs)
    one_line_error(queuectl(mine_link, "enqueue", '{"command": "echo secret"}'), str(theirs), "symbolic link")
    folder_link = tmp_path / "theirs-folder"  # another user: ln -s ~owner /tmp/theirs-folder
    folder_link.symlink_to(tmp_path)
    os.chown(folder_link, other_uid, other_uid, follow_symlinks=False)
    one_line_error(queuectl(folder_link / "mine.db", "status"), str(folder_link), "symbolic link")
    assert queuectl(mine, "list", "--json").stdout.count('"id"') == 1  # nothing was added


@ROOT_ONLY
def test_a_folder_above_of_another_user_is_refused(tmp_path, other_uid):
    """The owner's own folder inside one another user may change: they could rename it away and put
    a tree of theirs in its place."""
    above = tmp_path / "theirs"
    above.mkdir()
    own = above / "mine"
    own.mkdir(mode=0o700)
    os.chown(above, other_uid, other_uid)
    one_line_error(queuectl(own / "jobs.db", "enqueue", '{"command": "true"}'), str(above), "another user")
    assert list(own.iterdir()) == []
    above.chmod(0o777)  # or one any user may write to, unless sticky as /tmp is
    os.chown(above, 0, 0)
    one_line_error(queuectl(own / "jobs.db", "enqueue", '{"command": "true"}'), str(above), "writable by other users")
    above.chmod(0o1777)
    assert queuectl(own / "jobs.db", "enqueue", '{"command": "true"}').returncode == 0


def test_a_chain_of_the_owners_own_links_reaches_the_database(tmp_path):
    """Relative targets, `..` after a link, a link to a folder: the file opened is the one
    os.path.realpath names, and the queue is the same whichever path leads to it."""
    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "jobs.db"
    make_db(db)
    (tmp_path / "d").symlink_to("data")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("../d/")
    (tmp_path / "q.db").symlink_to("sub/up/../d/jobs.db")
    assert os.path.realpath(tmp_path / "q.db") == str(db)
    result = queuectl(tmp_path / "q.db", "enqueue", '{"id": "through-links", "command": "true"}')
    assert result.returncode == 0, result.stderr
    assert "through-links" in queuectl(db, "list").stdout
    (tmp_path / "loop").symlink_to("loop")
    one_line_error(queuectl(tmp_path / "loop", "status"), "symbolic links")


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_anything_but_a_regular_file_is_refused_before_sqlite_touches_it(tmp_path, kind):
    db = tmp_path / "db"
    if kind == "device":  # a copy of /dev/null, mode 0666 as it is: `--db /dev/null` as root
        try:
            os.mknod(db, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("cannot make a device node here (mknod not permitted)")
        db.chmod(0o666)
    elif kind == "fifo":
        os.mkfifo(db, 0o600)
    else:
        db.mkdir(mode=0o700)
    for args in (["status"], ["enqueue", '{"command": "true"}']):
        one_line_error(queuectl(db, *args, timeout=10), str(db))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # no db-journal, db-wal or db-shm


def test_files_are_made_0600_whatever_the_umask(tmp_path):
    db = tmp_path / "jobs.db"
    result = queuectl(db, "enqueue", '{"command": "true"}', preexec_fn=lambda: os.umask(0o277))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    result = queuectl(db, "worker", "start", "--burst", preexec_fn=lambda: os.umask(0o277))
    assert result.returncode == 0, result.stderr


# --- read-only databases -----------------------------------------------------------------------------


def as_owner_without_override():
    """Run as this user, but without root's power to write read-only files (a no-op for others)."""
    return drop_file_capabilities if os.geteuid() == 0 else None


def test_reading_a_read_only_database_leaves_nothing_behind(tmp_path):
    db = tmp_path / "jobs.db"
    make_db(db)
    db.chmod(0o400)
    owner = as_owner_without_override()
    for args in READING:
        result = queuectl(db, *args, preexec_fn=owner)
        assert result.returncode == 0, (args, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.db"]  # no read-only -wal or -shm left
    db.chmod(0o600)
    result = queuectl(db, "enqueue", '{"command": "true"}', preexec_fn=owner)
    assert result.returncode == 0, result.stderr


def test_read_only_leftovers_of_an_older_version_are_made_writable(tmp_path):
    db = tmp_path / "jobs.db"
    make_db(db)
    for suffix in ("-wal", "-shm"):  # what `status` on a 0400 database left before
        Path(f"{db}{suffix}").touch(mode=0o400)
    result = queuectl(db, "enqueue", '{"command": "true"}', preexec_fn=as_owner_without_override())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("count", [1, 2])
def test_a_worker_on_a_read_only_database_exits_with_one_line(tmp_path, count):
    db = tmp_path / "jobs.db"
    make_db(db)
    db.chmod(0o400)
    result = queuectl(db, "worker", "start", "--burst", "--count", str(count), timeout=20,
                      preexec_fn=as_owner_without_override())
    one_line_error(result, str(db), "read-only")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.db"]


# --- a mistyped --db creates nothing ---------------------------------------------------------------


@pytest.mark.parametrize("args", READING + WRITING, ids=lambda a: " ".join(a[:2]))
def test_a_database_in_a_missing_folder_is_an_error_and_nothing_is_made(tmp_path, args):
    db = tmp_path / "missing" / "dir" / "x.db"
    one_line_error(queuectl(db, *args), str(db))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", READING, ids=lambda a: " ".join(a[:2]))
def test_reading_a_missing_database_says_so_and_makes_nothing(tmp_path, args):
    db = tmp_path / "x.db"
    one_line_error(queuectl(db, *args), str(db), "no queue database")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", WRITING, ids=lambda a: " ".join(a[:2]))
def test_writing_to_a_missing_database_in_an_existing_folder_makes_it(tmp_path, args):
    db = tmp_path / "x.db"
    result = queuectl(db, *args)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert queuectl(db, "status").returncode == 0


@ROOT_ONLY
@pytest.mark.parametrize("suffix", ["-wal", "-shm"])
def test_a_companion_another_user_makes_just_before_sqlite_opens_it_is_refused(shared_tmp, other_uid, suffix):
    """In a sticky folder, an existing database's -wal and -shm can vanish (another process's last
    connection deletes them) after queuectl checked them and come back as another user's before
    SQLite opens them, which SQLite would trust. The owner is a child that becomes `nobody` (SQLite
    treats root's files otherwise); root plays the other user, in exactly that instant."""
    import core.sqlite_files as files
    from core import Queue
    from core.errors import StorageError

    with Queue.open(str(shared_tmp / "warm.db")) as q:  # every module the child needs, imported now
        q.enqueue("true")
    db = str(shared_tmp / "q.db")
    checked_r, checked_w = os.pipe()
    planted_r, planted_w = os.pipe()
    result_r, result_w = os.pipe()
    child = os.fork()
    if child == 0:  # the owner
        outcome = "no outcome"
        try:
            os.environ.update(TMPDIR=str(shared_tmp), XDG_RUNTIME_DIR=str(shared_tmp / "none"))
            os.setgid(other_uid)
            os.setuid(other_uid)
            Queue.open(db).close()
            checked = files._prepare_companions

            def then_wait(*args):
                checked(*args)
                os.write(checked_w, b"checked")
                os.read(planted_r, 1)

            files._prepare_companions = then_wait
            try:
                Queue.open(db).close()
                outcome = "opened"
            except StorageError as exc:
                outcome = str(exc)
        finally:
            os.write(result_w, outcome.encode())
            os._exit(0)
    assert os.read(checked_r, 10) == b"checked"
    planted = db + suffix
    if os.path.lexists(planted):
        os.unlink(planted)  # as the owner's other process closing last would
    fd = os.open(planted, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    os.fchmod(fd, 0o666)
    os.close(fd)
    os.write(planted_w, b"x")
    os.waitpid(child, 0)
    outcome = os.read(result_r, 1000).decode()
    assert outcome.startswith(f"refusing {planted}: it belongs to another user (uid 0)"), outcome
