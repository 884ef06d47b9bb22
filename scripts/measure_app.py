"""Measure the app on a big queue: time to the first filled table, refresh time, memory.

    .venv/bin/python scripts/measure_app.py --jobs 100000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import Queue  # noqa: E402


def seed(path: str, jobs: int) -> None:
    q = Queue.open(path)
    batch = 50_000
    for start in range(0, jobs, batch):
        q.enqueue_many({"command": f"echo {i}", "priority": i % 7} for i in range(start, min(jobs, start + batch)))
    # a mix of states, straight in SQL: a third completed, a tenth dead
    conn = q.store._connect()
    conn.execute("UPDATE jobs SET state = 'completed', attempts = 1, finished_at = created_at + 1 WHERE seq % 3 = 0")
    conn.execute("UPDATE jobs SET state = 'dead', attempts = 4, finished_at = created_at + 2,"
                 " last_error = 'exit code 1' WHERE seq % 10 = 1")
    q.close()


async def measure(path: str, refreshes: int) -> dict[str, float]:
    from queuectl_tui.app import QueueApp
    from queuectl_tui.screens.main import MainScreen

    started = time.perf_counter()
    app = QueueApp(Queue.open(path), workers=0, refresh_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, MainScreen) and app.screen.snapshot is not None):
            await pilot.pause(0.005)
        first = time.perf_counter() - started
        async def timed_refresh() -> float:
            before = app.screen.snapshot
            t = time.perf_counter()
            app.screen.refresh_data()
            while app.screen.snapshot is before:
                await pilot.pause(0.001)
            return time.perf_counter() - t

        steady = [await timed_refresh() for _ in range(refreshes)]  # what happens every second
        switches = []
        for n in range(refreshes):  # a tab switch: the table is rebuilt from a new window of rows
            app.screen.action_show_tab(["completed", "dead", "pending"][n % 3])
            await pilot.pause()
            switches.append(await timed_refresh())
        app.exit()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"first_table_s": first, "refresh_median_ms": statistics.median(steady) * 1000,
            "refresh_max_ms": max(steady) * 1000, "tab_switch_median_ms": statistics.median(switches) * 1000,
            "max_rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--refreshes", type=int, default=15)
    parser.add_argument("--db", help="use this existing database instead of seeding a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or str(Path(tmp) / "big.db")
        if not args.db:
            t = time.perf_counter()
            seed(path, args.jobs)
            print(f"seeded {args.jobs:,} jobs in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        for key, value in asyncio.run(measure(path, args.refreshes)).items():
            print(f"{key:20} {value:10.1f}")


if __name__ == "__main__":
    main()
