"""Dependencies (`after`): a job runs once every job in its `after` is completed; a dead one takes
its dependents with it, at once and transitively; `dlq retry --all` brings the chain back."""

from __future__ import annotations

import json
import subprocess
import time

from core import Queue
from tests.conftest import BIN, clean_env


def enqueue_lines(cli, *jobs: dict):
    result = cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in jobs))
    assert result.code == 0, result.err
    return result.out.split()


def test_jobs_wait_for_their_dependencies_and_say_on_what(db, cli, tmp_path):
    log = tmp_path / "order"
    enqueue_lines(cli, {"id": "build", "command": f"sleep 0.3; echo build >> {log}", "priority": -5},
                  {"id": "test", "command": f"echo test >> {log}", "after": ["build"], "priority": 9},
                  {"id": "deploy", "command": f"echo deploy >> {log}", "after": ["test", "build"], "priority": 9},
                  {"id": "other", "command": f"echo other >> {log}"})
    deploy = cli("show", "deploy", "--json").json()
    assert (deploy["state"], deploy["after"], deploy["waiting_on"]) == ("pending", ["test", "build"], ["build", "test"])
    assert cli("show", "other", "--json").json()["after"] == []
    assert [j["id"] for j in cli("list", "--state", "pending", "--json").json()] == ["other", "deploy", "test", "build"]
    with Queue.open(db) as q:  # as the app's Pending tab lists them: the ready ones in claim order, then the waiting
        assert [j.id for j in q.jobs(["pending", "failed"], order="claim")] == ["other", "build", "test", "deploy"]
    assert cli("worker", "start", "--burst").code == 0
    assert log.read_text().split() == ["other", "build", "test", "deploy"]  # high priority waits all the same
    assert cli("show", "deploy", "--json").json()["waiting_on"] == []


def test_a_dead_dependency_kills_the_chain_at_once_and_retry_brings_it_back(cli, tmp_path):
    flag = tmp_path / "ok"
    enqueue_lines(cli, {"id": "a", "command": f"test -e {flag}", "max_retries": 0},
                  {"id": "b", "command": "true", "after": ["a"]},
                  {"id": "c", "command": "true", "after": ["b"]},
                  {"id": "d", "command": "true", "after": ["a", "c"]})
    assert cli("worker", "start", "--burst").code == 0  # never waits for b, c, d: they die with a
    jobs = {j["id"]: j for j in cli("list", "--json").json()}
    assert {k: j["state"] for k, j in jobs.items()} == dict.fromkeys("abcd", "dead")
    assert [jobs[k]["last_error"] for k in "bcd"] == ["dependency a is dead", "dependency b is dead",
                                                       "dependency a is dead"]
    assert all(jobs[k]["attempts"] == 0 for k in "bcd")
    flag.touch()
    as_it_was = {k: cli("show", k, "--json").json() for k in "bc"}
    totals = cli("status", "--json").json()["finished_total"]
    alone = cli("dlq", "retry", "c")  # b is still dead, so c is dead again at once: said, exit 1
    assert (alone.code, alone.out, alone.err) == (
        1, "retried 0 job(s)\n", "error: job 'c' stays dead: dependency b is dead\n")
    assert cli("show", "c", "--json").json()["state"] == "dead"
    both = cli("dlq", "retry", "b", "c")  # a is still dead: neither comes back, and neither is counted
    assert (both.code, both.out) == (1, "retried 0 job(s)\n") and both.err.count("stays dead") == 2
    # a retry that leaves them dead changes nothing: when they died, their tries, the finished totals
    assert {k: cli("show", k, "--json").json() for k in "bc"} == as_it_was
    assert cli("status", "--json").json()["finished_total"] == totals
    assert cli("dlq", "retry", "--all").code == 0
    assert cli("show", "d", "--json").json()["waiting_on"] == ["a", "c"]
    assert cli("worker", "start", "--burst").code == 0
    assert {j["state"] for j in cli("list", "--json").json()} == {"completed"}


def test_cancelling_a_job_kills_its_dependents_and_a_new_job_after_a_dead_one_is_dead(cli):
    enqueue_lines(cli, {"id": "first", "command": "true", "delay": 3600},
                  {"id": "second", "command": "true", "after": ["first"]})
    assert cli("cancel", "first").code == 0
    assert cli("show", "second", "--json").json()["last_error"] == "dependency first is dead"
    third = cli("enqueue", '{"id": "third", "command": "true", "after": ["second"]}')
    assert third.code == 0 and cli("show", "third", "--json").json()["state"] == "dead"
    assert cli("status", "--json").json()["counts"]["dead"] == 3


def test_unknown_later_or_own_ids_are_refused_and_nothing_is_written(cli):
    assert cli("enqueue", '{"id": "x", "command": "true"}').code == 0
    for lines, reason in [([{"command": "true", "after": ["nope"]}], "after: no job 'nope'"),
                          ([{"id": "p", "command": "true", "after": ["q"]}, {"id": "q", "command": "true"}],
                           "line 1: after: job 'q' is not earlier in the input"),
                          ([{"id": "s", "command": "true", "after": ["s"]}], "cannot wait for itself"),
                          ([{"command": "true", "after": "x"}], "after must be a list"),
                          ([{"command": "true", "after": ["x", "bad id"]}], "id must match")]:
        result = cli("enqueue", "-", input="".join(json.dumps(j) + "\n" for j in lines))
        assert result.code == 2 and reason in result.err, (lines, result.err)
    assert [j["id"] for j in cli("list", "--json").json()] == ["x"]


def test_dependencies_finishing_while_dependents_are_enqueued_never_leave_one_waiting(db, cli, spawn_worker):
    """Workers in other processes finish the dependencies while enqueuers add jobs after them."""
    enqueue_lines(cli, *[{"id": f"dep{n}", "command": "true"} for n in range(40)])
    workers = [spawn_worker(), spawn_worker()]
    procs = [subprocess.Popen([str(BIN / "queuectl"), "--db", db, "enqueue", json.dumps(
        {"id": f"after{n}", "command": "true", "after": [f"dep{n}", f"dep{39 - n}"]})],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env()) for n in range(40)]
    codes = [p.wait(60) for p in procs]
    assert codes == [0] * 40, [p.stderr.read() for p in procs if p.returncode]
    deadline = time.monotonic() + 60
    while cli("status", "--json").json()["counts"]["completed"] < 80:
        assert time.monotonic() < deadline, (cli("status", "--json").out, workers[0].output())
        time.sleep(0.2)
    assert cli("status", "--json").json()["counts"] == {"pending": 0, "processing": 0, "completed": 80,
                                                       "failed": 0, "dead": 0}


def test_a_diamond_runs_in_order_and_a_failed_branch_kills_only_what_needs_it(cli, spawn_worker, tmp_path):
    """a; b and c after a; d after b and c: worker processes run each once, in order. When b fails
    for good, d dies with it and c still runs; `dlq retry --all` then completes everything."""
    log, flag = tmp_path / "log", tmp_path / "b-may-pass"
    enqueue_lines(cli, {"id": "a", "command": f"echo a >> {log}"},
                  {"id": "b", "command": f"test -e {flag} && echo b >> {log}", "after": ["a"], "max_retries": 0},
                  {"id": "c", "command": f"sleep 0.3; echo c >> {log}", "after": ["a"]},
                  {"id": "d", "command": f"echo d >> {log}", "after": ["b", "c"]})
    workers = [spawn_worker(burst=True), spawn_worker(burst=True)]
    assert [w.wait(60) for w in workers] == [0, 0]
    states = {j["id"]: j["state"] for j in cli("list", "--json").json()}
    assert states == {"a": "completed", "b": "dead", "c": "completed", "d": "dead"}
    assert cli("show", "d", "--json").json()["last_error"] == "dependency b is dead"
    assert log.read_text().split() == ["a", "c"]
    flag.touch()
    assert cli("dlq", "retry", "--all").code == 0
    workers = [spawn_worker(burst=True), spawn_worker(burst=True)]
    assert [w.wait(60) for w in workers] == [0, 0]
    assert {j["state"] for j in cli("list", "--json").json()} == {"completed"}
    assert log.read_text().split() == ["a", "c", "b", "d"]


def test_a_chain_thousands_deep_dies_at_once_and_comes_back_whole(cli, tmp_path):
    """The cascade is one statement, not a trigger level per link: the old one stopped at 1,000 links on
    SQLite and a few hundred on PostgreSQL, and the worker retried recording the first death for ever."""
    flag, n = tmp_path / "first-may-pass", 2500
    head = {"id": "j0", "command": f"test -e {flag}", "max_retries": 0}
    enqueue_lines(cli, head, *({"id": f"j{i}", "command": "true", "after": [f"j{i - 1}"]} for i in range(1, n)))
    assert cli("worker", "start", "--burst", timeout=120).code == 0
    status = cli("status", "--json").json()
    assert status["counts"]["dead"] == n and status["counts"]["pending"] == 0
    assert cli("show", f"j{n - 1}", "--json").json()["last_error"] == f"dependency j{n - 2} is dead"
    flag.touch()
    assert cli("dlq", "retry", "--all").code == 0
    assert cli("show", f"j{n - 1}", "--json").json()["waiting_on"] == [f"j{n - 2}"]
    assert cli("cancel", "j1").code == 0  # a cancel kills the rest of the chain in one statement too
    assert cli("show", f"j{n - 1}", "--json").json()["last_error"] == f"dependency j{n - 2} is dead"
    assert cli("worker", "start", "--burst", timeout=120).code == 0
    states = {j["id"]: j["state"] for j in cli("list", "--limit", str(n), "--json").json()}
    assert states.pop("j0") == "completed" and set(states.values()) == {"dead"} and len(states) == n - 1
