"""The app at scale, measured in a child process (so its memory is its own): start-up to the first
completed refresh under App.run_test(), the time of one more refresh, and peak memory (max RSS).

The app is QueueApp with no embedded pool on the 1M database; start-up counts from the probe's
own interpreter start to the first data snapshot shown, a refresh from calling the main screen's
refresh_data() to its snapshot shown (the database query in a thread worker, then the diff of the
tables), median of 5."""

from __future__ import annotations

import json
import subprocess

from common import PYTHON, ROOT, Row, env

PROBE = r"""
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from core import Queue
from queuectl_tui.app import QueueApp

queue = Queue.open({db!r})
# no embedded pool, and no timer-driven refresh in the way of the timed ones
app = QueueApp(queue, workers=0, refresh_interval=3600)

async def refreshed(pilot, before, deadline=60.0):
    end = time.perf_counter() + deadline
    while getattr(app.screen, "snapshot", None) is before:
        if time.perf_counter() > end:
            raise RuntimeError("no refresh within %.0f s" % deadline)
        await pilot.pause(0.001)

async def main():
    out = {{}}
    async with app.run_test(size=(160, 50)) as pilot:
        await refreshed(pilot, None)
        await pilot.pause()
        out["start"] = time.perf_counter() - t0
        times = []
        for _ in range(5):
            before = app.screen.snapshot
            t = time.perf_counter()
            app.screen.refresh_data()
            await refreshed(pilot, before)
            await pilot.pause()
            times.append(time.perf_counter() - t)
        out["refresh"] = sorted(times)[len(times) // 2]
        out["hook"] = "MainScreen.refresh_data"
        await app.action_quit()
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))

asyncio.run(main())
"""


def probe(db: str) -> dict:
    proc = subprocess.run([PYTHON, "-c", PROBE.format(root=str(ROOT), db=db)], capture_output=True, text=True,
                          env=env(), timeout=300)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1][:100])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(db: str, n: int, empty: str) -> list[Row]:
    """The app on the n-job database, beside the same app on an empty one (same run)."""
    label = f"at {n:,} jobs"
    try:
        base, out = probe(empty), probe(db)
    except Exception as exc:
        return [Row(f"app start {label}", None, "s", target="< 3 s", note=f"app probe failed: {exc}")]
    ms, base_ms = out["refresh"] * 1000, base["refresh"] * 1000
    return [
        Row(f"app start to first refresh {label} (run_test)", out["start"], "s", f"empty db {base['start']:.2f} s",
            out["start"] / base["start"], "< 3 s", out["start"] < 3),
        Row(f"app refresh {label} (refresh_data, median of 5)", ms, "ms", f"empty db {base_ms:.0f} ms",
            ms / base_ms, "< 100 ms", ms < 100),
        Row(f"app memory {label} (max RSS)", out["rss_mb"], "MB", f"empty db {base['rss_mb']:.0f} MB",
            out["rss_mb"] / base["rss_mb"], "< 200 MB", out["rss_mb"] < 200),
    ]
