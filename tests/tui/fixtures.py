"""A deterministic queue with jobs in every state: fixed clock, fixed ids, fixed workers.
Shared by the snapshot tests and scripts/export_screenshots.py, so the README shows what is tested."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from core.clock import FixedClock
from core.models import WorkerInfo
from core.queue import Queue
from core.store import Outcome

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc).timestamp()
WORKER = "web-1:4242:ab12cd:1"
HOSTILE = "echo '[bold]not bold[/] [link=x]no link[/link] [/]' \x1b[31m; printf '\\033[2J'"


def finish(q: Queue, clock: FixedClock, job_id: str, worker: str, took: float, state: str, code: int | None,
           error: str | None, stdout: bytes = b"", stderr: bytes = b"", retry_in: float | None = None) -> None:
    job = q.store.claim(worker, clock.now(), clock.now() + 30)
    assert job is not None and job.id == job_id, (job, job_id)
    clock.advance(took)
    run_at = clock.now() + retry_in if retry_in is not None else None
    q.store.finish(job_id, worker, job.attempts,
                   Outcome(state, run_at, code, error, job.started_at, clock.now(), stdout, stderr))


def seeded_queue(path: str) -> tuple[Queue, FixedClock]:
    """Build the demo queue at `path`; the returned clock stands at NOW."""
    clock = FixedClock(NOW - 600)
    q = Queue(Queue.open(path).store, clock)
    q.set_setting("backoff-base", 4)
    add = q.enqueue
    # finished work, oldest first
    for n in range(1, 6):
        add(f"convert img_{n:03d}.png -resize 50% thumbs/img_{n:03d}.png", id=f"thumb-{n}", queue="images")
        finish(q, clock, f"thumb-{n}", WORKER, 0.8 + n / 10, "completed", 0, None, b"resized\n")
        clock.advance(50)
    add("curl -fsS https://api.example.com/v1/sync", id="sync-api", max_retries=2)
    for attempt in range(3):
        finish(q, clock, "sync-api", WORKER, 1.2, "dead" if attempt == 2 else "failed", 22, "exit code 22",
               stderr=b"curl: (22) The requested URL returned error: 503\n", retry_in=None if attempt == 2 else 0)
        clock.advance(5)
    add(HOSTILE, id="hostile", max_retries=0)
    finish(q, clock, "hostile", WORKER, 0.01, "dead", 1, "exit code 1",
           stdout=b"[bold]not bold[/] [link=x]no link[/link] [/]\n\x1b[31mred?\x1b[0m\n", stderr=b"\x1b[2J\x07")
    add("backup-tool --all", id="nightly-backup", max_retries=0)
    finish(q, clock, "nightly-backup", WORKER, 3, "dead", 127, "exit code 127 (command not found)",
           stderr=b"sh: 1: backup-tool: not found\n")
    clock.at = NOW - 45
    add("python train.py --epochs 20", id="train-model", timeout=3600, queue="gpu", cwd="/srv/ml")
    job = q.store.claim(WORKER, clock.now(), clock.now() + 3600)
    assert job is not None and job.id == "train-model"
    add("make -C ~/site deploy", id="deploy-site", max_retries=5, queue="deploy")
    finish(q, clock, "deploy-site", "web-2:977:ef34ab:1", 2, "failed", 2, "exit code 2", retry_in=60)
    clock.at = NOW - 20
    add("pg_dump app > /backups/app.sql", id="pg-dump", priority=10)
    add("du -sh /var/log", id="disk-report")
    add("echo 'weekly digest' | mail -s digest team@example.com", id="weekly-digest", delay=1800, queue="mail")
    q.set_queue_limit("gpu", 1)
    q.set_queue_limit("deploy", 1)
    q.pause_queue("mail")
    clock.at = NOW
    q.store.register_worker(WorkerInfo(WORKER, "web-1", 4242, None, NOW - 3600, NOW - 2))
    q.store.register_worker(WorkerInfo("web-2:977:ef34ab:1", "web-2", 977, None, NOW - 1800, NOW - 4))
    return q, clock


def demo_app(path: str, **kwargs):
    """The app on the demo queue, deterministic: no workers of its own, fixed clock and theme."""
    from queuectl_tui.app import QueueApp

    queue, clock = seeded_queue(path)
    kwargs.setdefault("shown_location", "~/demo/jobs.db")  # the temp path differs on every run
    app = QueueApp(queue, workers=0, clock=clock, refresh_interval=3600, **kwargs)
    app.theme = "textual-dark"
    app.animation_level = "none"  # a tab's underline slides: a picture mid-slide would differ
    return app


async def settle(pilot) -> None:
    """Wait until the pool has started and the visible table holds fresh data."""
    app = pilot.app
    for _ in range(200):
        if app.pools.pool is not None:
            break
        await pilot.pause(0.02)
    screen = app.screen
    if hasattr(screen, "refresh_data"):
        screen.refresh_data()
    for _ in range(2):  # a refresh may schedule another (a tab switch): let both land
        for _ in range(500):
            await pilot.pause()
            if not [w for w in app.workers if w.is_running and w.name != "wait_for_pool"]:
                break
            await pilot.pause(0.01)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Poll with a deadline: never sleep and hope."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def table(app):
    return app.screen.active_table


async def goto(pilot, tab: str) -> None:
    pilot.app.screen.action_show_tab(tab)
    await pilot.pause()
    await settle(pilot)
