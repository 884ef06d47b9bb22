"""`queuectl schedule ...` with a real worker process firing a due schedule."""

from __future__ import annotations

import json
import time

from core import Queue


def test_a_running_worker_fires_a_due_schedule_once(db, cli, spawn_worker):
    # yearly, brought forward to two seconds from now: no second due time comes while the test runs
    assert cli("schedule", "add", "beat", "0 0 1 1 *", '{"command": "echo from $QUEUECTL_JOB_ID"}').code == 0
    due = int(time.time()) + 2.0
    with Queue.open(db) as q:
        q.store.pause_schedule("beat", False, due)  # due in two seconds rather than next January
    worker = spawn_worker()
    deadline = time.monotonic() + 30
    while not cli("list", "--state", "completed", "--json").json():
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.2)
    time.sleep(1.5)  # more heartbeats: nothing more is fired for that due time
    [job] = cli("list", "--json").json()
    assert job["schedule"] == "beat" and job["id"].startswith("beat:") and job["state"] == "completed"
    assert cli("logs", job["id"]).out == f"from {job['id']}\n"
    [schedule] = cli("schedule", "list", "--json").json()
    assert (schedule["last_job"], schedule["last_state"], schedule["paused"]) == (job["id"], "completed", False)
    assert schedule["next_due"] > schedule["last_due"]


def test_a_burst_worker_runs_the_job_of_a_schedule_already_due(db, cli):
    """A cron-driven `worker start --burst` fires what is due and runs it before it exits (it exited
    first in 7 runs of 12, leaving the job pending, and the no-pile-up rule then skipped later times)."""
    assert cli("schedule", "add", "beat", "0 0 1 1 *", '{"command": "echo from $QUEUECTL_JOB_ID"}').code == 0
    with Queue.open(db) as q:
        q.store.pause_schedule("beat", False, time.time() - 120)  # due two minutes ago
    for _ in range(3):  # a race: more than one try
        assert cli("worker", "start", "--burst").code == 0
        [job] = cli("list", "--json").json()
        assert (job["schedule"], job["state"]) == ("beat", "completed")
        assert cli("logs", job["id"]).out == f"from {job['id']}\n"
        assert cli("prune", "--state", "completed", "--older-than", "0s").code == 0
        with Queue.open(db) as q:
            q.store.pause_schedule("beat", False, time.time() - 120)


def test_a_schedules_relative_cwd_is_made_absolute_as_by_enqueue(cli, tmp_path):
    """`enqueue` stores a relative cwd made absolute; `schedule add` refused it (exit 2)."""
    (tmp_path / "site").mkdir()
    added = cli("schedule", "add", "build", "0 3 * * *", '{"command": "make", "cwd": "site"}', cwd=tmp_path)
    assert added.code == 0, added.err
    [schedule] = cli("schedule", "list", "--json").json()
    assert schedule["job"]["cwd"] == str(tmp_path / "site")


def test_schedule_commands_and_their_errors(cli):
    add = cli("schedule", "add", "nightly", "30 2 * * *", '{"command": "backup.sh"}', "--tz", "Europe/Berlin")
    assert add.code == 0 and add.out.startswith("nightly: next due ")
    assert cli("schedule", "add", "nightly", "* * * * *", '{"command": "x"}').code == 1
    for args in (["bad", "61 * * * *", '{"command": "x"}'], ["bad", "* * * * *", '{"command": "x"}', "--tz", "No/Where"],
                 ["bad", "* * * * *", '{"command": "x", "id": "y"}'], ["bad name", "* * * * *", '{"command": "x"}'],
                 ["bad", "* * * * *", "not json"]):
        result = cli("schedule", "add", *args)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1, (args, result.err)
    assert cli("schedule", "pause", "nightly").code == 0
    [found] = cli("schedule", "list", "--json").json()
    assert (found["name"], found["cron"], found["tz"], found["paused"]) == ("nightly", "30 2 * * *", "Europe/Berlin", True)
    assert found["job"] == {"command": "backup.sh"} and found["last_job"] is None
    assert "nightly" in cli("schedule", "list").out
    assert cli("schedule", "resume", "nightly").code == 0 and not cli("schedule", "list", "--json").json()[0]["paused"]
    assert cli("schedule", "rm", "nightly").code == 0 and cli("schedule", "list", "--json").json() == []
    assert cli("schedule", "rm", "nightly").code == 1 and cli("schedule", "pause", "nightly").code == 1
    assert json.loads(cli("list", "--json").out) == []
