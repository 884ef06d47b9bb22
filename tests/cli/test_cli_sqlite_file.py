"""SQLite-specific: the database file itself (mode, folder, garbage, read-only, schema version)."""

from __future__ import annotations

import ctypes
import json
import os
import sqlite3
import stat
import subprocess

import pytest

from tests.conftest import BIN, clean_env


def queuectl(db, *args, preexec_fn=None):
    return subprocess.run([str(BIN / "queuectl"), "--db", str(db), *args], capture_output=True, text=True,
                          env=clean_env(), timeout=60, preexec_fn=preexec_fn)


def one_line_error(result, code=1):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_file_created_0600_and_its_folder_made(tmp_path):
    """The default location's folders are made (only its: see test_cli_safety for an explicit --db)."""
    data = tmp_path / "new" / "deeper"
    result = subprocess.run([str(BIN / "queuectl"), "enqueue", '{"command": "true"}'], capture_output=True,
                            text=True, env=clean_env(XDG_DATA_HOME=str(data)), timeout=60)
    assert result.returncode == 0, result.stderr
    db = data / "queuectl" / "jobs.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_existing_file_mode_is_left_alone(tmp_path):
    db = tmp_path / "jobs.db"
    assert queuectl(db, "config", "set", "max-retries", "3").returncode == 0  # a command that makes the file
    db.chmod(0o640)
    assert queuectl(db, "enqueue", '{"command": "true"}').returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o640


@pytest.mark.parametrize("content", [b"this is not a database\n", os.urandom(8192)])
def test_not_a_database(tmp_path, content):
    db = tmp_path / "jobs.db"
    db.write_bytes(content)
    for args in (["status"], ["enqueue", '{"command": "true"}'], ["list", "--json"]):
        err = one_line_error(queuectl(db, *args))
        assert "not a queuectl database" in err
    assert db.read_bytes() == content


@pytest.mark.parametrize("tables, version", [(["notes"], 0), (["jobs", "notes"], 0), (["jobs"], 5)])
@pytest.mark.parametrize("sticky", [False, True])
def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path, tables, version, sticky):
    """A mistyped --db that names another program's SQLite file: no command makes our tables in it,
    switches it to WAL mode or leaves a -wal or -shm beside it (in a sticky folder like /tmp
    queuectl makes those itself for its own databases)."""
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o1777 if sticky else 0o700)
    folder.chmod(0o1777 if sticky else 0o700)
    db = folder / "notes.db"
    conn = sqlite3.connect(db)
    for table in tables:
        conn.execute(f"CREATE TABLE {table} (x)")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for args in (["status"], ["list"], ["enqueue", '{"command": "true"}'], ["worker", "start", "--burst"],
                 ["config", "set", "max-retries", "1"]):
        assert "another program's SQLite database" in one_line_error(queuectl(db, *args))
    assert db.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["notes.db"]


def test_a_folder_as_database(tmp_path):
    one_line_error(queuectl(tmp_path, "status"))


def drop_file_capabilities() -> None:
    """In a root child: lose the capabilities that let root write a read-only file."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_CAPBSET_DROP = 24
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")


def test_read_only_file(tmp_path):
    db = tmp_path / "jobs.db"
    assert queuectl(db, "enqueue", '{"command": "true", "id": "kept"}').returncode == 0
    db.chmod(0o400)
    before = db.read_bytes()
    preexec = drop_file_capabilities if os.geteuid() == 0 else None
    err = one_line_error(queuectl(db, "enqueue", '{"command": "true"}', preexec_fn=preexec))
    assert "read-only" in err
    one_line_error(queuectl(db, "config", "set", "max-retries", "1", preexec_fn=preexec))
    assert db.read_bytes() == before
    shown = queuectl(db, "show", "kept", "--json", preexec_fn=preexec)  # reading still works
    assert shown.returncode == 0, shown.stderr


def test_schema_version_recorded_and_newer_refused(tmp_path):
    db = tmp_path / "jobs.db"
    assert queuectl(db, "enqueue", '{"command": "true", "id": "a"}').returncode == 0
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    err = one_line_error(queuectl(db, "status"))
    assert "schema version 999" in err


def test_a_write_that_hits_the_file_size_limit_says_so_and_leaves_nothing_half_written(tmp_path):
    """A full disk, as a process limit on file size: SQLite ends the transaction itself, and the
    error the user reads is SQLite's, not the failed ROLLBACK that came after it."""
    import resource
    import signal

    db = tmp_path / "jobs.db"
    assert queuectl(db, "config", "set", "max-retries", "3").returncode == 0

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    lines = "".join(json.dumps({"command": "echo " + "x" * 1000}) + "\n" for _ in range(3000))
    result = subprocess.run([str(BIN / "queuectl"), "--db", str(db), "enqueue", "-"], input=lines, capture_output=True,
                            text=True, env=clean_env(), timeout=60, preexec_fn=small_files)
    err = one_line_error(result)
    assert "disk" in err and "rollback" not in err, err
    assert json.loads(queuectl(db, "status", "--json").stdout)["counts"]["pending"] == 0
    some = "".join(lines.splitlines(keepends=True)[:100])  # the database is fine for what fits
    again = subprocess.run([str(BIN / "queuectl"), "--db", str(db), "enqueue", "-"], input=some,
                           capture_output=True, text=True, env=clean_env(), timeout=60)
    assert again.returncode == 0 and len(again.stdout.split()) == 100, again.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_a_full_device_is_named_as_such_not_as_a_disk_io_error(tmp_path):
    """On a full device SQLite cannot make its -shm file and says "disk I/O error", which reads like
    failing hardware: the error says there is no space left; freed, the database works again."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(small)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = small / "jobs.db"
        assert queuectl(db, "enqueue", '{"command": "true"}').returncode == 0
        (small / "jobs.db-wal").unlink(missing_ok=True)
        (small / "jobs.db-shm").unlink(missing_ok=True)
        subprocess.run(["dd", "if=/dev/zero", f"of={small / 'filler'}", "bs=64k"], capture_output=True)
        for args in (("status",), ("list",), ("enqueue", '{"command": "true"}')):
            err = one_line_error(queuectl(db, *args))
            assert "no space left on its device" in err, (args, err)
        (small / "filler").unlink()
        assert json.loads(queuectl(db, "status", "--json").stdout)["counts"]["pending"] == 1
    finally:
        subprocess.run(["umount", "-l", str(small)])


def test_a_relative_path_from_a_deleted_folder_is_one_clear_error(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    result = subprocess.run(["sh", "-c", f'cd "{gone}" && rmdir "{gone}" && exec "$0" --db jobs.db status',
                             str(BIN / "queuectl")], capture_output=True, text=True, env=clean_env(), timeout=60)
    assert "the current folder no longer exists" in one_line_error(result)
