"""Queues, limits, pauses, cwd and env through the real `queuectl`, with worker OS processes, on
SQLite and PostgreSQL (issue 13)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, clean_env
from tests.helpers import FAST, configure, snapshot, wait_until


def enqueue(cli, **job) -> str:
    result = cli("enqueue", json.dumps(job))
    assert result.code == 0, result.err
    return result.out.strip()


def ledger_job(ledger: Path, seconds: float) -> str:
    """A job that writes when it starts and ends: `start T ID` and `end T ID` lines (short appends are atomic)."""
    stamp = "$(date +%s.%N) $QUEUECTL_JOB_ID"
    return f"echo start {stamp} >> {ledger}; sleep {seconds}; echo end {stamp} >> {ledger}"


def most_at_once(ledger: Path) -> tuple[int, dict[str, int]]:
    """The largest number of jobs between their start and end at one moment, and the starts per job."""
    events, starts = [], {}
    for line in ledger.read_text().splitlines():
        kind, at, job_id = line.split()
        events.append((float(at), 0 if kind == "end" else 1))  # at the same instant an end comes first
        if kind == "start":
            starts[job_id] = starts.get(job_id, 0) + 1
    running = most = 0
    for _, start in sorted(events):
        running += 1 if start else -1
        most = max(most, running)
    return most, starts


@pytest.mark.parametrize("limit, jobs", [(1, 6), (2, 8)])
def test_a_limit_holds_across_worker_processes(cli, queue, spawn_worker, tmp_path, limit, jobs):
    configure(queue, **FAST)
    assert cli("queue", "limit", "gpu", str(limit)).code == 0
    ledger = tmp_path / "ledger"
    ids = [enqueue(cli, command=ledger_job(ledger, 0.3), queue="gpu") for _ in range(jobs)]
    workers = [spawn_worker(count=2, burst=True) for _ in range(3)]  # 6 workers for `limit` slots
    for worker in workers:
        assert worker.wait(90) == 0, worker.output()
    most, starts = most_at_once(ledger)
    assert starts == {job_id: 1 for job_id in ids}  # every job ran, once
    assert most == limit, f"{most} jobs ran at once under a limit of {limit}"
    info = {q["name"]: q for q in cli("queue", "list", "--json").json()}["gpu"]
    assert info["counts"]["completed"] == jobs and info["limit"] == limit and info["running"] == 0


def test_pause_holds_a_queue_back_across_processes_and_resume_releases_it(cli, queue, spawn_worker, tmp_path):
    configure(queue, **FAST)
    assert cli("queue", "pause", "mail").out.strip() == "queue mail: paused"
    mail = [enqueue(cli, command="true", queue="mail") for _ in range(3)]
    other = enqueue(cli, command="true")
    worker = spawn_worker(count=2)
    wait_until(lambda: queue.job(other).state == "completed", what="the job of the queue not paused")
    late = enqueue(cli, command="true")  # the worker is past the paused jobs at least once more
    wait_until(lambda: queue.job(late).state == "completed", what="a later job")
    assert [queue.job(i).state for i in mail] == ["pending"] * 3
    assert {q["name"]: q["paused"] for q in cli("queue", "list", "--json").json()} == {"default": False, "mail": True}
    # a worker that starts now (as after a restart) holds them back too
    assert subprocess.run([str(BIN / "queuectl"), "--db", queue.store.url, "worker", "start", "--burst"],
                          env=clean_env(), capture_output=True, timeout=60).returncode == 0
    assert [queue.job(i).state for i in mail] == ["pending"] * 3
    assert cli("queue", "resume", "mail").code == 0
    wait_until(lambda: all(queue.job(i).state == "completed" for i in mail), what="the resumed queue's jobs")
    assert worker.proc.poll() is None


def test_workers_take_only_their_queues(cli, queue, spawn_worker):
    configure(queue, **FAST)
    a, b, c = (enqueue(cli, command="true", queue=name) for name in ("a", "b", "c"))
    default = enqueue(cli, command="true")
    worker = spawn_worker(count=2, burst=True, extra=("--queue", "a", "--queue", "b"))
    assert worker.wait(60) == 0, worker.output()
    assert [queue.job(i).state for i in (a, b, c, default)] == ["completed", "completed", "pending", "pending"]
    worker = spawn_worker(count=1, burst=True, extra=("--queue", "c,default"))
    assert worker.wait(60) == 0, worker.output()
    assert queue.job(c).state == queue.job(default).state == "completed"


def test_list_filters_by_queue_and_status_counts_per_queue(cli):
    ids = {name: enqueue(cli, command="true", queue=name) for name in ("a", "b", "c")}
    listed = cli("list", "--queue", "a,c", "--json").json()
    assert sorted(j["id"] for j in listed) == sorted([ids["a"], ids["c"]])
    assert {j["queue"] for j in listed} == {"a", "c"}
    assert [j["id"] for j in cli("list", "--queue", "b", "--json").json()] == [ids["b"]]
    text = cli("list", "--queue", "b").out.splitlines()
    assert text[0].split()[:3] == ["ID", "STATE", "QUEUE"] and text[1].split()[:3] == [ids["b"], "pending", "b"]
    status = cli("status", "--json").json()
    assert [(q["name"], q["counts"]["pending"], q["limit"], q["paused"]) for q in status["queues"]] == [
        ("a", 1, 0, False), ("b", 1, 0, False), ("c", 1, 0, False)]
    assert cli("list", "--queue", "nosuch", "--json").json() == []


def test_status_shows_the_busiest_queues_and_points_to_the_rest(cli):
    """Past 20 queues, status (a summary) shows the 20 with the most unfinished jobs, by name, and
    says where the others are; --json and `queue list` keep every one."""
    jobs = [{"command": "true", "queue": f"q{i:02d}"} for i in range(30) for _ in range(1 + (i % 7 == 3))]
    assert cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in jobs)).code == 0
    lines = cli("status").out.splitlines()
    shown = [line.split()[0] for line in lines if line.startswith("q")]
    busy = ["q03", "q10", "q17", "q24"]  # two jobs each
    assert len(shown) == 20 and shown == sorted(shown) and set(busy) <= set(shown)
    assert "(20 of 30 queues: those with the most unfinished jobs; all in `queue list`)" in lines
    assert len(cli("status", "--json").json()["queues"]) == 30
    assert len(cli("queue", "list").out.splitlines()) == 31


def test_cwd_and_env_reach_the_command(cli, queue, tmp_path):
    (tmp_path / "proj").mkdir()
    job = {"command": "pwd; echo \"$GREETING|$QUEUECTL_QUEUE\"", "cwd": "proj", "env": {"GREETING": "a b [x]"},
           "queue": "build"}
    result = subprocess.run([str(BIN / "queuectl"), "--db", queue.store.url, "enqueue", json.dumps(job)],
                            cwd=tmp_path, env=clean_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    shown = cli("show", job_id, "--json").json()
    assert shown["cwd"] == str(tmp_path / "proj")  # made absolute at enqueue, against the enqueuer's directory
    assert shown["env"] == {"GREETING": "a b [x]"} and shown["queue"] == "build"
    plain = enqueue(cli, command="pwd; echo \"${GREETING-unset}|$QUEUECTL_QUEUE\"")
    assert cli("show", plain, "--json").json()["cwd"] is None  # not recorded unless asked
    worker = subprocess.run([str(BIN / "queuectl"), "--db", queue.store.url, "worker", "start", "--burst"],
                            cwd="/", env=clean_env(), capture_output=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    assert cli("logs", job_id).out == f"{tmp_path / 'proj'}\na b [x]|build\n"
    assert cli("logs", plain).out == "/\nunset|default\n"  # the worker's directory and environment


def test_a_missing_cwd_fails_the_attempt_cleanly(cli, queue, tmp_path):
    configure(queue, **FAST)
    gone = tmp_path / "gone"
    gone.mkdir()
    job_id = enqueue(cli, command="echo ran", cwd=str(gone), max_retries=1)
    after = enqueue(cli, command="echo next")
    gone.rmdir()
    worker = subprocess.run([str(BIN / "queuectl"), "--db", queue.store.url, "worker", "start", "--burst"],
                            env=clean_env(), capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    job = queue.job(job_id)
    assert (job.state, job.attempts, job.last_error) == ("dead", 2, f"cwd {gone}: no such directory")
    assert [r.error for r in job.runs] == [f"cwd {gone}: no such directory"] * 2
    assert queue.job(after).state == "completed"
    assert "Traceback" not in worker.stderr


@pytest.mark.parametrize("args", [
    ("enqueue", '{"command": "true", "queue": "Upper"}'),
    ("enqueue", '{"command": "true", "queue": ""}'),
    ("enqueue", '{"command": "true", "queue": 7}'),
    ("enqueue", '{"command": "true", "cwd": 5}'),
    ("enqueue", '{"command": "true", "cwd": "/a\\u0000b"}'),
    ("enqueue", '{"command": "true", "env": ["A=1"]}'),
    ("enqueue", '{"command": "true", "env": {"A-B": "1"}}'),
    ("enqueue", '{"command": "true", "env": {"A": 1}}'),
    ("enqueue", '{"command": "true", "env": {"A": "x\\u0000"}}'),
    ("enqueue", '{"command": "true", "env": {"QUEUECTL_JOB_ID": "x"}}'),
    ("queue", "limit", "Bad", "1"),
    ("queue", "limit", "gpu", "-1"),
    ("queue", "limit", "gpu", "two"),
    ("queue", "limit", "gpu", "1.5"),
    ("queue", "pause", "a b"),
    ("queue", "resume", "x" * 65),
    ("list", "--queue", "A"),
])
def test_invalid_queues_and_fields_change_nothing(cli, queue, args):
    before = snapshot(queue), queue.queues()
    result = cli(*args)
    assert result.code == 2, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert (snapshot(queue), queue.queues()) == before


def test_a_bad_line_in_enqueue_stdin_inserts_nothing(cli, queue):
    lines = ['{"command": "true", "queue": "ok"}', '{"command": "true", "cwd": "rel"}',
             '{"command": "true", "env": {"9": "x"}}']
    result = cli("enqueue", "-", input="\n".join(lines) + "\n")
    assert result.code == 2 and result.err.startswith("error: line 3: env name"), result.err
    assert queue.counts()["pending"] == 0 and queue.queues() == []
