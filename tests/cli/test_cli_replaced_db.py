"""Workers notice when their SQLite file is deleted or replaced under them, and stop with an error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import FAST, configure, wait_until


@pytest.mark.sqlite_only
@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_workers_stop_with_an_error_when_their_database_file_goes(how, count, db, queue, cli, spawn_worker, tmp_path):
    configure(queue, **FAST)
    started = tmp_path / "started"
    queue.enqueue(f"touch {started}; sleep 1", id="running")
    worker = spawn_worker(count)
    wait_until(started.exists, what="the job to start")
    if how == "deleted":
        for name in Path(db).parent.glob(Path(db).name + "*"):
            name.unlink()
    else:  # a copy put in its place, as a restore from backup would
        shutil.copy(db, db + ".copy")
        os.replace(db + ".copy", db)
    assert worker.wait(timeout=30) == 1
    assert f"{db} was {how}" in worker.output()
    assert "Traceback" not in worker.output()
