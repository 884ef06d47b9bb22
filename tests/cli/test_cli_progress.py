"""`enqueue -` on a terminal draws a progress bar for large inputs: on stderr, never among the ids."""

from __future__ import annotations

import json
import os
import pty
import subprocess

from tests.conftest import BIN, clean_env
from tests.helpers import read_to_end


def test_progress_bar_goes_to_the_terminal_not_to_stdout(db, tmp_path):
    lines = "".join(json.dumps({"command": f"echo {i}"}) + "\n" for i in range(25_000))
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([str(BIN / "queuectl"), "--db", db, "enqueue", "-"], input=lines.encode(),
                              stdout=subprocess.PIPE, stderr=follower, env=clean_env(), timeout=120)
        os.close(follower)
        drawn = read_to_end(leader)
    finally:
        os.close(leader)
    assert proc.returncode == 0
    ids = proc.stdout.decode().split("\n")
    assert ids[-1] == "" and len(ids) == 25_001 and all(len(i) == 12 for i in ids[:-1])
    assert b"enqueue" in drawn  # the bar was drawn on the terminal
