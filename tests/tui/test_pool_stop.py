"""Issue 17 item 2: `queuectl worker stop` from another process stops the app's embedded pool too.
The app says so, the strip shows it, and + starts a fresh pool that runs jobs again."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core import Queue
from queuectl_tui.app import QueueApp
from queuectl_tui.widgets.footer import KeyFooter
from queuectl_tui.widgets.stats import StatsStrip

from .fixtures import until

SIZE = (100, 30)
QUEUECTL = str(Path(sys.executable).parent / "queuectl")


def strip_text(app) -> str:
    return app.screen.query_one(StatsStrip).render().plain


def footer_keys(app) -> dict[str, str]:
    """What the footer shows: key -> description."""
    return {key.key: key.description for key in app.screen.query_one(KeyFooter).query("FooterKey")}


async def test_worker_stop_from_outside_is_shown_and_plus_starts_a_new_pool(tmp_path):
    path = str(tmp_path / "q.db")
    queue = Queue.open(path)
    queue.set_setting("poll-interval", 0.1)
    app = QueueApp(queue, workers=1, refresh_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.pools.pool is not None and len(queue.workers()) == 1)
        first = app.pools.pool
        await until(pilot, lambda: "pool 1 (0 busy)" in strip_text(app))

        # Another process, the same database: the CLI's own `worker stop`, which waits for them to go.
        stop = await asyncio.create_subprocess_exec(QUEUECTL, "--db", path, "worker", "stop", "--timeout", "20")
        await until(pilot, lambda: app.pools.stopped, timeout=15)
        assert await asyncio.wait_for(stop.wait(), 20) == 0
        assert queue.workers() == []
        messages = [str(n.message) for n in app._notifications]
        assert any("stopped from outside (queuectl worker stop)" in m and "Press + to start a new pool" in m
                   for m in messages), messages
        await until(pilot, lambda: "pool stopped, + starts one" in strip_text(app))
        await pilot.pause(0.1)
        keys = footer_keys(app)
        assert keys.get("plus") == "New pool" and "minus" not in keys and "p" not in keys, keys

        # Nothing runs meanwhile: a due job stays pending.
        waiting = queue.enqueue("echo waited")
        await pilot.pause(0.5)
        assert queue.job(waiting.id).state == "pending"

        await pilot.press("plus")
        await until(pilot, lambda: app.pools.pool is not first and not app.pools.stopped)
        assert app.pools.pool.size == 1 and not app.pools.pool.stopping
        await until(pilot, lambda: queue.job(waiting.id).state == "completed")
        fresh = queue.enqueue("echo after the restart")
        await until(pilot, lambda: queue.job(fresh.id).state == "completed")
        assert [w.id for w in queue.workers()] == [worker_id for worker_id, _ in app.pools.pool.snapshot()]
        await until(pilot, lambda: "pool 1 (0 busy)" in strip_text(app))
        assert any("Started a new pool of 1 worker(s)" in str(n.message) for n in app._notifications)
        keys = footer_keys(app)
        assert keys.get("plus") == "" and keys.get("p") == "Pause", keys  # + - grouped as "Pool" again
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=15)
    assert Queue.open(path).workers() == []


async def test_a_stop_request_while_a_job_runs_lets_it_finish(tmp_path):
    """Queue.request_stop() is what `worker stop` does: the running job completes, then the pool
    is gone, and the strip says how many still run meanwhile."""
    path = str(tmp_path / "q.db")
    queue = Queue.open(path)
    queue.set_setting("poll-interval", 0.1)
    job = queue.enqueue("sleep 1.5; echo done")
    app = QueueApp(queue, workers=1, refresh_interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue.job(job.id).state == "processing")
        Queue.open(path).request_stop()
        await until(pilot, lambda: app.pools.stopped)
        assert app.pools.line() == "pool stopped (1 busy)"
        await until(pilot, lambda: queue.job(job.id).state == "completed")
        await until(pilot, lambda: queue.workers() == [])
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=15)
