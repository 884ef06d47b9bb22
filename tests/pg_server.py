"""A throwaway PostgreSQL server for the tests: loopback only, a free port, a temporary data folder.

    server = PgServer.start()       # StartError (one line) if it cannot
    server.url("postgres")          # postgresql://postgres@127.0.0.1:PORT/postgres
    server.restart(); server.stop()

Run as root, the server runs as the `postgres` user (initdb refuses root). The binaries come from
$QUEUECTL_PG_BIN if set, else the newest /usr/lib/postgresql/*/bin, else PATH. `python -m tests.pg_server`
starts one by hand and prints its URL until Ctrl-C. A guard process stops the server and removes its
folder when the process that started it ends without stop() (killed, crashed).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
max_connections = 300
shared_buffers = 32MB
# fsync off is safe here (the OS does not crash under a test); synchronous_commit stays on, so a
# server crash (restart -m immediate) keeps every commit that a client was told about.
fsync = off
full_page_writes = off
log_min_messages = warning
"""


class StartError(Exception):
    pass


# The guard: a process of its own session that stops the server once the process that started it
# is gone, however it went (SIGKILL, a crash in C code, a timeout's kill): its standard input is a
# pipe whose only writer is that process, so the read returns at end of file when it ends.
GUARD = """
import os, shutil, subprocess, sys
sys.stdin.buffer.read()
pg_ctl, data, root, user = sys.argv[1:5]
if os.path.exists(os.path.join(data, "postmaster.pid")):
    subprocess.run([pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", "-t", "60"], user=user or None,
                   cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(root, ignore_errors=True)
"""


def find_bin() -> Path | None:
    if os.environ.get("QUEUECTL_PG_BIN"):  # an explicit choice: only that folder
        folder = os.environ["QUEUECTL_PG_BIN"]
        return Path(folder) if os.access(os.path.join(folder, "initdb"), os.X_OK) else None
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates = sorted(versions, key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                        reverse=True)
    which = shutil.which("initdb")
    candidates.append(os.path.dirname(which) if which else "")
    for folder in candidates:
        if folder and os.access(os.path.join(folder, "initdb"), os.X_OK):
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    def __init__(self, bin_dir: Path, root: Path, port: int, user: str | None) -> None:
        self.bin = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = port
        self.user = user  # run the server binaries as this user (we are root), else as ourselves
        self.guard: subprocess.Popen | None = None

    @classmethod
    def start(cls) -> "PgServer":
        bin_dir = find_bin()
        if bin_dir is None:
            raise StartError("PostgreSQL server binaries not found (install postgresql-15 or set QUEUECTL_PG_BIN)")
        user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise StartError("running as root and there is no 'postgres' user to run the server as") from None
            user = "postgres"
        root = Path(tempfile.mkdtemp(prefix="queuectl-pg-"))
        if user:
            os.chown(root, pw.pw_uid, pw.pw_gid)
        server = cls(bin_dir, root, free_port(), user)
        server.guard = subprocess.Popen(
            [sys.executable, "-c", GUARD, str(bin_dir / "pg_ctl"), str(server.data), str(root), user or ""],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            server._run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions")
            with open(server.data / "postgresql.conf", "a") as conf:
                conf.write(CONFIG.format(port=server.port, sockets=server.root))
            server._ctl("start")
        except StartError:
            server.stop()
            raise
        return server

    def url(self, dbname: str = "postgres", **query: str) -> str:
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}" + (f"?{tail}" if tail else "")

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        try:
            proc = subprocess.run([str(self.bin / tool), *args], user=self.user, cwd=self.root,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise StartError(f"{tool} failed: {exc}") from None
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise StartError(f"{tool} failed: {lines[-1] if lines else proc.returncode}")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  *extra)

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port. fast: sessions are cut off; immediate: as a crash."""
        self._ctl("restart", "-m", mode)

    def outage(self, seconds: float) -> None:
        """Down for a while, as a server being upgraded or moved: stopped (sessions cut off), then
        started again on the same port."""
        import time

        self._ctl("stop", "-m", "fast")
        time.sleep(seconds)
        self._ctl("start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._ctl("stop", "-m", "immediate")
            except StartError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        if self.guard is not None:  # nothing left for it to do: let it end
            self.guard.stdin.close()
            self.guard.wait(timeout=60)
            self.guard = None


if __name__ == "__main__":
    import time

    srv = PgServer.start()
    print(srv.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
