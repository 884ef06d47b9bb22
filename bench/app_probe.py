"""The app at scale, measured in a child process (so its memory is its own): start-up to the first
completed refresh under App.run_test(), the time of one more refresh, and peak memory (max RSS).

The app is found, not assumed: the first textual App subclass in queuectl_tui.app, built with the
database (and an embedded pool of 0 workers) by whichever keyword its __init__ takes. A refresh is
whichever of a few likely methods exists; the time counts until the app's workers are idle."""

from __future__ import annotations

import json
import subprocess

from common import PYTHON, ROOT, Row, env

PROBE = r"""
import asyncio, inspect, json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import queuectl_tui.app as mod
from textual.app import App

DB = {db!r}
cls = next(v for v in vars(mod).values() if inspect.isclass(v) and issubclass(v, App) and v is not App)
params = inspect.signature(cls.__init__).parameters
kwargs = {{}}
for name in ("db", "location", "db_path", "path", "database"):
    if name in params:
        kwargs[name] = DB
        break
else:
    kwargs = None
for name in ("workers", "worker_count", "pool_size"):
    if kwargs is not None and name in params:
        kwargs[name] = 0
app = cls(**kwargs) if kwargs is not None else cls(DB)

async def idle(pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()

async def main():
    out = {{}}
    async with app.run_test(size=(160, 50)) as pilot:
        await idle(pilot)
        out["start"] = time.perf_counter() - t0
        hook = next((getattr(app, n) for n in ("refresh_data", "action_refresh", "refresh_tables", "reload", "poll")
                     if callable(getattr(app, n, None))), None)
        if hook is not None:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                result = hook()
                if inspect.isawaitable(result):
                    await result
                await idle(pilot)
                times.append(time.perf_counter() - t)
            out["refresh"] = sorted(times)[len(times) // 2]
            out["hook"] = hook.__name__
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))

asyncio.run(main())
"""


def measure(db: str, n: int) -> list[Row]:
    proc = subprocess.run([PYTHON, "-c", PROBE.format(root=str(ROOT), db=db)], capture_output=True, text=True,
                          env=env(), timeout=300)
    label = f"at {n:,} jobs"
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1][:100]
        return [Row(f"app start {label}", None, "s", target="< 3 s", note=f"app probe failed: {reason}")]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = [Row(f"app start to first refresh {label} (run_test)", out["start"], "s", "", None, "< 3 s",
                out["start"] < 3)]
    if "refresh" in out:
        ms = out["refresh"] * 1000
        rows.append(Row(f"app refresh {label} ({out['hook']}, median of 5)", ms, "ms", "", None, "< 100 ms", ms < 100))
    else:
        rows.append(Row(f"app refresh {label}", None, "ms", target="< 100 ms", note="no refresh method found"))
    rows.append(Row(f"app memory {label} (max RSS)", out["rss_mb"], "MB", "", None, "< 200 MB", out["rss_mb"] < 200))
    return rows
