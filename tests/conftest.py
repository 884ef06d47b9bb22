"""Shared fixtures. Every test gets its own database; `backend` is the seam where the PostgreSQL
backend joins the same tests: every test that uses `db`, `queue` or `cli` runs on SQLite and on a
throwaway PostgreSQL server (one per session, a fresh schema per test; see pg_server.py). Without
server binaries the postgres runs skip with the reason, except under CI=true, where they fail. A test
about SQLite files (paths, corruption, permissions) takes @pytest.mark.sqlite_only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import Queue

BIN = Path(sys.executable).parent
BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite files; skipped on PostgreSQL")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param != "sqlite" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite files only")
    return request.param


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (a pg_server.PgServer), started on first use."""
    from tests.pg_server import PgServer, StartError

    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        unavailable(f"psycopg is not installed: {exc}")
    try:
        server = PgServer.start()
    except StartError as exc:
        unavailable(str(exc))
    yield server
    server.stop()


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture
def db(backend: str, tmp_path: Path, request) -> str:
    """Location of a fresh, empty queue database (a SQLite path or a postgresql:// URL)."""
    if backend == "postgres":
        return request.getfixturevalue("pg_server").url(schema=f"t_{uuid.uuid4().hex[:12]}")
    Queue.open(str(tmp_path / "jobs.db")).close()  # made, as commands that only read need it to exist
    return str(tmp_path / "jobs.db")


@pytest.fixture
def queue(db: str):
    q = Queue.open(db)
    yield q
    q.close()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL_") and k not in ("NO_COLOR", "QUEUECTL_DB")}
    env.update(extra)
    return env


@pytest.fixture
def cli(db: str):
    """Run the real `queuectl` script against this test's database: cli("status", "--json")."""

    def run(*args: str, input: str | None = None, timeout: float = 60, env: dict | None = None,
            cwd: Path | None = None) -> Result:
        proc = subprocess.run(
            [str(BIN / "queuectl"), "--db", db, *args],
            input=input, capture_output=True, text=True, timeout=timeout, env=env or clean_env(), cwd=cwd,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@dataclass
class WorkerProcess:
    """A `queuectl worker start` running in the background; its log is stderr + stdout."""

    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)


@pytest.fixture
def spawn_worker(db: str, tmp_path: Path):
    """Start `queuectl worker start` processes; any still running at the end are killed."""
    started: list[WorkerProcess] = []

    def spawn(count: int = 1, burst: bool = False, extra: tuple[str, ...] = ()) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        args = [str(BIN / "queuectl"), "--db", db, "worker", "start", "--count", str(count), *extra]
        with open(log, "wb") as sink:
            proc = subprocess.Popen(args + (["--burst"] if burst else []), stdin=subprocess.DEVNULL,
                                    stdout=sink, stderr=subprocess.STDOUT, env=clean_env())
        started.append(WorkerProcess(proc, log))
        return started[-1]

    yield spawn
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.proc.wait()
