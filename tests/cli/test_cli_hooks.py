"""Completion hooks (settings on-completed, on-dead): run once per transition by a worker, in the
background, with the job as data only (environment and JSON on stdin)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import lines, stop_process, wait_until

# Shell that would run something if job text ever reached a hook's command line.
HOSTILE = "echo '$(touch {s}1)' '`touch {s}2`' '\"; touch {s}3; \"'; printf '%s' '$(touch {s}4)' >&2"


def records(folder: Path) -> dict[str, dict]:
    """What each hook run saw: its environment and its stdin, by the file the hook wrote."""
    found = {}
    for env_file in folder.glob("*.env"):
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        found[env_file.stem] = {"env": env, "stdin": json.loads(env_file.with_suffix(".json").read_text())}
    return found


def recording_hook(folder: Path, name: str) -> str:
    # unique file per run: a hook run twice for one transition would show as two files
    return (f'f="{folder}/{name}-$QUEUECTL_JOB_ID-$(date +%s%N)"; cat > "$f.json";'
            f' env | grep ^QUEUECTL_ > "$f.env"')


def test_hooks_get_the_job_as_data_once_per_transition(cli, tmp_path):
    seen = tmp_path / "seen"
    seen.mkdir()
    assert cli("config", "set", "on-completed", recording_hook(seen, "completed")).code == 0
    assert cli("config", "set", "on-dead", recording_hook(seen, "dead")).code == 0
    sentinel = tmp_path / "pwned"
    jobs = [{"id": "fine", "command": HOSTILE.format(s=sentinel)},
            {"id": "broken", "command": "echo '$(touch %s5)'; exit 7" % sentinel, "max_retries": 1},
            {"id": "waiting", "command": "true", "delay": 3600}]
    assert cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in jobs)).code == 0
    assert cli("cancel", "waiting").code == 0  # its hook is owed: the worker below runs it
    assert cli("config", "set", "backoff-base", "0").code == 0
    assert cli("worker", "start", "--burst").code == 0
    runs = records(seen)
    by_job = {(r["env"]["QUEUECTL_JOB_ID"], r["env"]["QUEUECTL_JOB_STATE"]): r for r in runs.values()}
    assert len(runs) == 3 and set(by_job) == {("fine", "completed"), ("broken", "dead"), ("waiting", "dead")}
    assert all(name.startswith(state) for name, r in runs.items() for state in [r["env"]["QUEUECTL_JOB_STATE"]])
    fine, broken = by_job["fine", "completed"], by_job["broken", "dead"]
    assert fine["env"]["QUEUECTL_EXIT_CODE"] == "0" and broken["env"]["QUEUECTL_EXIT_CODE"] == "7"
    assert {r["env"]["QUEUECTL_QUEUE"] for r in runs.values()} == {"default"}
    assert by_job["waiting", "dead"]["env"]["QUEUECTL_EXIT_CODE"] == ""
    # stdin: the job as `show --json` gives it, output included
    assert fine["stdin"] == cli("show", "fine", "--json").json()
    assert "$(touch" in fine["stdin"]["runs"][-1]["stdout"] and len(broken["stdin"]["runs"]) == 2
    assert not list(tmp_path.glob("pwned*"))  # the job's own command is the only shell that saw its text


def test_a_slow_hook_never_holds_up_the_next_job_and_a_burst_waits_for_it(cli, tmp_path):
    done = tmp_path / "hook-done"
    assert cli("config", "set", "on-completed", f"sleep 2; echo \"$QUEUECTL_JOB_ID\" >> {done}").code == 0
    for n in range(3):
        assert cli("enqueue", json.dumps({"id": f"j{n}", "command": "true"})).code == 0
    began = time.monotonic()
    assert cli("worker", "start", "--burst").code == 0
    took = time.monotonic() - began
    finished = [cli("show", f"j{n}", "--json").json()["finished_at"] for n in range(3)]
    assert finished == sorted(finished) and cli("status", "--json").json()["counts"]["completed"] == 3
    from core.clock import parse_iso

    spread = parse_iso(finished[-1]) - parse_iso(finished[0])
    assert spread < 1.5, f"the jobs waited for the 2 s hooks: {spread:.2f}s from first to last"
    assert sorted(done.read_text().split()) == ["j0", "j1", "j2"] and took >= 2  # the burst waited


def test_a_hook_past_its_timeout_is_killed_with_its_children_and_the_job_is_untouched(cli, tmp_path):
    child = tmp_path / "child.pid"
    assert cli("config", "set", "hook-timeout", "1").code == 0
    assert cli("config", "set", "on-dead", f"sleep 60 & echo $! > {child}; wait").code == 0
    assert cli("enqueue", '{"id": "x", "command": "exit 1", "max_retries": 0}').code == 0
    result = cli("worker", "start", "--burst")
    assert result.code == 0 and "hook on-dead for job x: killed after 1s" in result.err
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    job = cli("show", "x", "--json").json()
    assert (job["state"], job["exit_code"], job["attempts"]) == ("dead", 1, 1)


def test_a_failing_hook_is_one_log_line(cli):
    assert cli("config", "set", "on-completed", "echo 'no mail server' >&2; exit 5").code == 0
    assert cli("enqueue", '{"id": "y", "command": "true"}').code == 0
    result = cli("worker", "start", "--burst")
    lines = [line for line in result.err.splitlines() if "hook on-" in line]
    assert result.code == 0 and len(lines) == 1 and lines[0].endswith("hook on-completed for job y exited 5: no mail server")
    assert cli("show", "y", "--json").json()["state"] == "completed"


def test_hook_settings_are_validated(cli):
    assert cli("config", "set", "on-dead", "x" * 5000).code == 2
    assert cli("config", "set", "hook-timeout", "0").code == 2
    assert cli("config", "set", "on-dead", "  logger -t queuectl dead  ").code == 0
    assert cli("config", "get", "on-dead").out == "logger -t queuectl dead\n"
    assert cli("config", "set", "on-dead", "").code == 0 and cli("config", "get", "on-dead").out == "\n"
    assert os.environ.get("QUEUECTL_JOB_ID") is None  # nothing leaks into the test's own environment


def test_a_job_taken_back_from_a_dead_worker_runs_its_hook_once(cli, spawn_worker, tmp_path):
    ledger = tmp_path / "ledger"
    assert cli("config", "set", "on-dead", f'echo "$QUEUECTL_JOB_ID $QUEUECTL_JOB_STATE" >> {ledger}').code == 0
    assert cli("config", "set", "on-completed", f'echo "$QUEUECTL_JOB_ID $QUEUECTL_JOB_STATE" >> {ledger}').code == 0
    assert cli("config", "set", "lease-timeout", "1").code == 0
    assert cli("enqueue", '{"id": "long", "command": "sleep 60", "max_retries": 0}').code == 0
    first = spawn_worker()
    deadline = time.monotonic() + 30
    while cli("show", "long", "--json").json()["state"] != "processing":
        assert time.monotonic() < deadline, first.output()
        time.sleep(0.1)
    first.proc.kill()  # SIGKILL: no clean-up, its lease stays
    first.wait()
    time.sleep(1.5)  # its lease runs out
    # a worker on the same host sees the dead worker's process gone and takes the job back at once
    result = cli("worker", "start", "--burst")
    assert result.code == 0, result.err
    job = cli("show", "long", "--json").json()
    assert job["state"] == "dead" and "worker" in (job["last_error"] or "")
    assert ledger.read_text() == "long dead\n"


def test_an_id_cannot_carry_shell_text_to_a_hook(cli, tmp_path):
    # ids are letters, digits and . _ : - only: refused before anything is stored
    result = cli("enqueue", json.dumps({"id": f"$(touch {tmp_path}/x)", "command": "true"}))
    assert result.code == 2 and not (tmp_path / "x").exists()
    assert cli("list", "--json").json() == []


def test_a_cancel_that_ends_a_claimed_job_before_it_starts_runs_its_hook(cli, queue, spawn_worker, tmp_path):
    """Short jobs are claimed four at a time (see "Short jobs in chains"): a cancel of one claimed but
    not started ends it dead as the worker gives it back, and that is a reach of dead like any other.
    Each dead job's hook runs once, whichever way it died."""
    ledger = tmp_path / "ledger"
    assert cli("config", "set", "on-dead", f'echo "$QUEUECTL_JOB_ID" >> {ledger}').code == 0
    queue.enqueue_many([{"command": "sleep 0.01", "id": f"j{i}", "max_retries": 0} for i in range(300)])
    worker = spawn_worker(burst=True)
    while worker.proc.poll() is None:
        for job in queue.jobs("processing", limit=10):
            try:
                queue.cancel(job.id)
            except Exception:  # finished meanwhile (Conflict) or not found: the race this test is about
                pass
    assert worker.wait(30) == 0, worker.output()
    dead = [job for job in queue.jobs("dead", limit=1000)]
    never_started = [job.id for job in dead if job.attempts == 0]
    assert never_started, "no cancel hit a claimed job before it started: the test proved nothing"
    ran = ledger.read_text().split() if ledger.exists() else []
    assert sorted(ran) == sorted(job.id for job in dead)  # once each


def test_a_cancelled_waiting_job_has_its_hook_run_by_one_worker_never_by_whoever_cancels(cli, spawn_worker, tmp_path):
    """On PostgreSQL any role that may write the settings chooses the hooks: were they run by
    `cancel`, they would run as whoever cancels, on that machine. A worker runs them, once."""
    ledger = tmp_path / "ledger"
    assert cli("config", "set", "on-dead", f'echo "$QUEUECTL_JOB_ID" >> {ledger}').code == 0
    jobs = [{"id": f"w{n}", "command": "true", "delay": 3600} for n in range(6)]
    assert cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in jobs)).code == 0
    for n in range(2):
        assert cli("cancel", f"w{n}").out == f"cancelled w{n}\n"
    assert not ledger.exists()  # no worker yet: nothing ran
    workers = [spawn_worker(count=2), spawn_worker(count=2)]  # owed hooks taken by one pool each
    wait_until(lambda: len(lines(ledger)) == 2, what="the hooks owed before any worker ran")
    for n in range(2, 6):  # while they run: the cancel wakes them
        assert cli("cancel", f"w{n}").code == 0
    wait_until(lambda: len(lines(ledger)) == 6, what="the hooks of the cancels made while workers ran")
    assert all(stop_process(worker.proc) == 0 for worker in workers)
    assert sorted(lines(ledger)) == [f"w{n}" for n in range(6)]  # each once


def test_a_hook_that_prints_a_lot_costs_the_worker_only_its_tail(cli, spawn_worker, tmp_path):
    """Only a hook's last line is ever shown (when it fails): 200 MB of output are not kept."""
    assert cli("config", "set", "on-completed", "head -c 200000000 /dev/zero; echo; echo last words; exit 3").code == 0
    assert cli("enqueue", '{"id": "chatty", "command": "true"}').code == 0
    worker = spawn_worker(burst=True)
    rss = 0
    while worker.proc.poll() is None:
        try:
            with open(f"/proc/{worker.proc.pid}/status") as status:
                rss = max(rss, next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
        except (OSError, StopIteration):
            pass
        time.sleep(0.05)
    assert worker.wait(60) == 0, worker.output()
    assert "hook on-completed for job chatty exited 3: last words" in worker.output()
    assert rss < 100_000, f"the worker peaked at {rss} kB"


@pytest.mark.parametrize("count", [1, 2])
def test_worker_stop_returns_once_the_workers_hooks_have_ended(cli, spawn_worker, tmp_path, count):
    """`worker stop` returns when the workers are gone, and a stopping worker waits for its hooks:
    so a script's next step (an upgrade, a move of the database) never runs beside a hook."""
    ended = tmp_path / "ended"
    assert cli("config", "set", "on-completed", f'sleep 1.5; echo "$QUEUECTL_JOB_ID" >> {ended}').code == 0
    assert cli("enqueue", '{"id": "h1", "command": "true"}').code == 0
    worker = spawn_worker(count=count)
    wait_until(lambda: cli("show", "h1", "--json").json()["state"] == "completed", what="the job to complete")
    result = cli("worker", "stop", "--timeout", "30")
    assert result.code == 0, result.err
    assert lines(ended) == ["h1"]  # the hook had ended when stop returned
    assert worker.wait(30) == 0, worker.output()
