"""The huey side of workload 1: one task that runs a shell command, on SqliteHuey storage.
The consumer is started with `huey_consumer huey_app.huey -w 4 -k process` from this folder."""

import os
import subprocess

from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ.get("BENCH_HUEY_DB", "huey.db"))


@huey.task()
def shell(command: str) -> int:
    return subprocess.run(command, shell=True).returncode
