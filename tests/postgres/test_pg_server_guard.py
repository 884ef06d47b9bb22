"""The suite's throwaway PostgreSQL server never outlives the test run, even when the run is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.pg_server import find_bin

ROOT = Path(__file__).resolve().parents[2]

# Start a server, print where it is, then die as a crashed pytest would: no stop(), no atexit.
STARTER = """
import os, signal
from tests.pg_server import PgServer
server = PgServer.start()
print(server.port, server.root, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_server_is_stopped_when_the_process_that_started_it_is_killed():
    if find_bin() is None:
        pytest.skip("no PostgreSQL server binaries")
    proc = subprocess.run([sys.executable, "-c", STARTER], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    port_text, root = proc.stdout.split()
    port = int(port_text)
    wait_until(lambda: not accepts(port), timeout=60, what="the orphaned server to stop")
    wait_until(lambda: not os.path.exists(root), timeout=30, what="the server's folder to be removed")
