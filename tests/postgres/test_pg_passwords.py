"""A password in a PostgreSQL URL never reaches the terminal: not in errors, not in `worker start`'s
first line, not in libpq's own messages, however oddly it is written (issue 11, item 5)."""

from __future__ import annotations

import re
import subprocess
import urllib.parse
import uuid

import pytest

from tests.conftest import BIN, clean_env

# Each password is made of distinctive pieces, so that a part of it shows as well as the whole.
PIECES = ("QXj7", "KVm9", "WZp3", "PLu5")


def queuectl(db: str, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "queuectl"), "--db", db, *args], capture_output=True, text=True,
                          timeout=timeout, env=clean_env(), input=input)


def assert_no_password(text: str) -> None:
    shown = [p for p in PIECES if p in text]
    assert not shown, f"password pieces {shown} printed in:\n{text}"


@pytest.mark.parametrize("url", [
    "postgresql://u:QXj7KVm9@127.0.0.1:1/db",
    "postgresql://u:QXj7%zzKVm9@127.0.0.1:1/db",               # a bad escape: libpq quoted it whole
    "postgresql://u:QXj7/KVm9@127.0.0.1:1/db",                 # unencoded /: libpq read a host and port
    "postgresql://u:QXj7@KVm9@127.0.0.1:1/db",                 # unencoded @: libpq read host KVm9@...
    "postgresql://u:QXj7#KVm9@127.0.0.1:1/db",
    "postgresql://u:QXj7?KVm9@127.0.0.1:1/db",                 # unencoded ?: our own parse quoted it
    "postgresql://u@127.0.0.1:1/db?password=QXj7KVm9",
    "postgresql://u@127.0.0.1:1/db?password=QXj7%zzKVm9",
    "postgresql://u@127.0.0.1:1/db?sslmode=disable&password=QXj7&KVm9",
    "postgresql://u:QXj7/KVm9@127.0.0.1:1/db?password=WZp3%2FPLu5&schema=Bad-Name",
    "postgres://u:QXj7:KVm9@127.0.0.1:1/db?schema=t1",
    "postgresql://u@127.0.0.1:1/db?sslpassword=QXj7KVm9&sslmode=disable",  # a client key's passphrase
    "postgresql://u:WZp3@127.0.0.1:1/db?sslpassword=QXj7%zzKVm9",
])
def test_unusable_url_never_prints_its_password(url: str):
    result = queuectl(url, "status")
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert_no_password(result.stdout + result.stderr)


# --- a real server that checks the password ------------------------------------------------------

ROLE = "qpw_" + uuid.uuid4().hex[:8]
PASSWORD = "QXj7/KVm9#WZp3@PLu5%"  # every character that a URL must escape, and some it need not


@pytest.fixture(scope="module")
def pw_server(pg_server):
    """The session's server with a role that must give PASSWORD (scram), the other roles as before."""
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        admin.execute(f"GRANT CREATE ON DATABASE postgres TO {ROLE}")
    hba = pg_server.data / "pg_hba.conf"
    before = hba.read_text()
    hba.write_text(f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n" + before)
    pg_server._ctl("reload")
    yield pg_server
    hba.write_text(before)
    pg_server._ctl("reload")


def url_with(server, userinfo: str, query: str = "") -> str:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return f"postgresql://{userinfo}@127.0.0.1:{server.port}/postgres?schema={schema}{query}"


ENCODED = urllib.parse.quote(PASSWORD, safe="")


@pytest.mark.parametrize("make_url", [
    lambda s: url_with(s, f"{ROLE}:{ENCODED}"),
    lambda s: url_with(s, f"{ROLE}:{PASSWORD.replace('%', '%25')}"),   # /, # and @ unencoded
    lambda s: url_with(s, ROLE, f"&password={ENCODED}"),
], ids=["encoded", "raw", "query"])
def test_password_urls_work_and_never_show(pw_server, make_url, tmp_path):
    url = make_url(pw_server)
    marker = tmp_path / "ran"
    enqueued = queuectl(url, "enqueue", f'{{"id": "j1", "command": "echo hi > {marker}"}}')
    assert enqueued.returncode == 0, enqueued.stderr
    assert_no_password(enqueued.stderr)
    # two worker processes: each opens the database again, with the password
    worker = queuectl(url, "worker", "start", "--count", "2", "--burst")
    assert worker.returncode == 0, worker.stderr
    first = worker.stderr.splitlines()[0]
    assert re.match(r"2 worker\(s\) on postgresql://", first), first
    assert "***" in first and "job j1 completed" in worker.stderr, worker.stderr
    assert marker.read_text() == "hi\n"
    outputs = [worker.stdout + worker.stderr]
    for args in (("status",), ("show", "j1"), ("list",), ("config", "list"), ("worker", "list")):
        result = queuectl(url, *args)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert_no_password("\n".join(outputs))


def test_wrong_password_is_refused_without_showing_either(pw_server):
    wrong = "QXj7-KVm9"
    result = queuectl(url_with(pw_server, f"{ROLE}:{wrong}"), "status")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "password authentication failed" in result.stderr
    assert_no_password(result.stderr)


def test_newer_schema_error_hides_the_password(pw_server):
    import psycopg

    url = url_with(pw_server, ROLE, f"&password={ENCODED}")
    assert queuectl(url, "status").returncode == 0
    schema = re.search(r"schema=(\w+)", url).group(1)
    with psycopg.connect(pw_server.url(), autocommit=True) as admin:
        admin.execute(f"UPDATE {schema}.meta SET value = '99' WHERE key = 'schema_version'")
    result = queuectl(url, "status")
    assert result.returncode == 1 and "newer than this queuectl" in result.stderr, result.stderr
    assert "password=***" in result.stderr
    assert_no_password(result.stderr)


def drain_with_processes_from_a_threaded_program(location: str) -> None:
    """A burst ProcessPool started while another thread runs (as in the app, or a library user's
    program), so it starts new Python processes instead of forking."""
    import threading

    from core.process_pool import ProcessPool

    idle = threading.Event()
    helper = threading.Thread(target=idle.wait)
    helper.start()
    try:
        pool = ProcessPool(location, 2, burst=True).start()
        assert pool.join(timeout=60) and pool.errors == []
    finally:
        idle.set()
        helper.join()


def test_worker_processes_started_from_a_threaded_program_keep_the_password_from_their_jobs(pw_server, tmp_path):
    """A ProcessPool started where threads run (the app, a library user) starts new Python
    processes: the URL reaches them on stdin, never in the environment their jobs inherit."""
    from core import Queue

    url = url_with(pw_server, f"{ROLE}:{ENCODED}")
    seen = tmp_path / "env"
    with Queue.open(url) as q:
        q.enqueue(f"env > {seen}", id="env")
    drain_with_processes_from_a_threaded_program(url)
    assert "QUEUECTL_JOB_ID=env" in seen.read_text()
    assert_no_password(seen.read_text())


def test_worker_processes_started_from_a_threaded_program_never_import_the_current_directory(tmp_path, monkeypatch):
    """Another user's `core` package in the folder a program runs in (a shared /tmp) is never imported
    by its worker processes: they import the parent's own package."""
    from core import Queue

    planted = tmp_path / "shared" / "core"
    planted.mkdir(parents=True)
    pwned = tmp_path / "pwned"
    for name in ("__init__.py", "process_pool.py"):
        (planted / name).write_text(f"open({str(pwned)!r}, 'a').write('ran\\n')\n")
    db = str(tmp_path / "q.db")
    with Queue.open(db) as q:
        q.enqueue("true", id="job")
    monkeypatch.chdir(planted.parent)
    drain_with_processes_from_a_threaded_program(db)
    assert not pwned.exists()
    with Queue.open(db) as q:
        assert q.job("job").state == "completed"
