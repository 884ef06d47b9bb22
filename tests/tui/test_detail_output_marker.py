"""The job detail says, as the CLI does, when only the tail of an attempt's output was kept."""

from __future__ import annotations

import time

from textual.widgets import Static

from core import Queue
from core.store import Outcome
from queuectl_tui.app import QueueApp
from queuectl_tui.screens.detail import DetailScreen

from .scenes import detail_loaded


async def test_detail_marks_output_that_was_not_kept(tmp_path):
    queue = Queue.open(str(tmp_path / "q.db"))
    queue.enqueue("seq 1 100000", id="cut", max_retries=0)
    now = time.time() + 1
    job = queue.store.claim("w", now, now + 30)
    queue.store.finish("cut", "w", job.attempts, Outcome("dead", None, 1, "exit code 1", now, now + 1,
                                                         b"99\n99998\n99999\n100000\n", b"", 588_868, 0))
    app = QueueApp(queue, workers=0, refresh_interval=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(DetailScreen("cut", queue, refresh_interval=app.refresh_interval))
        await detail_loaded(pilot)
        stdout = str(app.screen.query_one("#stdout-text", Static).render())
        assert stdout.splitlines()[:4] == ["... 588,871 bytes before this were not kept", "99998", "99999", "100000"]
        assert str(app.screen.query_one("#stderr-text", Static).render()).strip() == "(empty)"
    queue.close()
