"""Every command's surface: exit codes, one-line errors, --json fields, literal output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time

import pytest

from tests.conftest import BIN, clean_env
from tests.helpers import ISO_UTC, run_burst, JOB_FIELDS, JOB_TIMES, SETTING_KEYS, STATES, configure, read_to_end, snapshot, wait_until


def enqueue(cli, **job) -> str:
    result = cli("enqueue", json.dumps(job))
    assert result.code == 0, result.err
    return result.out.strip()


def assert_one_line_error(result, code: int) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert result.err.startswith("error: "), result.err
    assert result.err.count("\n") == 1 and result.err.endswith("\n"), result.err
    assert "Traceback" not in result.err


@pytest.fixture
def seeded(cli, queue):
    """A database with one job of each kind, and one setting changed."""
    configure(queue, poll_interval=0.1, max_retries=1)
    queue.enqueue("echo done", id="done")
    queue.enqueue("exit 4", id="bad", max_retries=0)
    run_burst(queue)  # in this process: quicker than a worker process for every parameter
    queue.enqueue("echo later", id="later", delay=3600)
    return snapshot(queue)


INVALID = [
    # enqueue: the JSON itself
    ["enqueue", "not json"],
    ["enqueue", "[1, 2]"],
    ["enqueue", '"echo hi"'],
    ["enqueue", "{}"],
    ["enqueue", '{"command": ""}'],
    ["enqueue", '{"command": "   "}'],
    ["enqueue", '{"command": 5}'],
    ["enqueue", '{"command": "true", "colour": "red"}'],
    ["enqueue", '{"command": "echo \\ud800"}'],  # a lone surrogate cannot be stored
    # id
    ["enqueue", '{"command": "true", "id": "has space"}'],
    ["enqueue", '{"command": "true", "id": "-dash-first"}'],
    ["enqueue", '{"command": "true", "id": ""}'],
    ["enqueue", '{"command": "true", "id": 12}'],
    ["enqueue", '{"command": "true", "id": "x/y"}'],
    ["enqueue", json.dumps({"command": "true", "id": "a" * 129})],
    # numbers
    ["enqueue", '{"command": "true", "max_retries": -1}'],
    ["enqueue", '{"command": "true", "max_retries": "3"}'],
    ["enqueue", '{"command": "true", "max_retries": 1.5}'],
    ["enqueue", '{"command": "true", "max_retries": true}'],
    ["enqueue", '{"command": "true", "priority": "high"}'],
    ["enqueue", '{"command": "true", "priority": 0.5}'],
    ["enqueue", '{"command": "true", "priority": 1e300}'],
    ["enqueue", '{"command": "true", "run_at": "tomorrow"}'],
    ["enqueue", '{"command": "true", "run_at": 1700000000}'],
    ["enqueue", '{"command": "true", "run_at": "0001-01-01T00:00:00+01:00"}'],  # year 0 in UTC
    ["enqueue", '{"command": "true", "run_at": "9999-12-31T23:59:59-01:00"}'],  # year 10000 in UTC
    ["enqueue", '{"command": "true", "delay": -1}'],
    ["enqueue", '{"command": "true", "delay": "5"}'],
    ["enqueue", '{"command": "true", "delay": NaN}'],
    ["enqueue", '{"command": "true", "delay": 1, "run_at": "2030-01-01T00:00:00Z"}'],
    ["enqueue", '{"command": "true", "timeout": -1}'],
    ["enqueue", '{"command": "true", "timeout": "10"}'],
    ["enqueue", '{"command": "true", "timeout": Infinity}'],
    # other commands
    ["list", "--state", "bogus"],
    ["list", "--limit", "0"],
    ["list", "--limit", "many"],
    ["show"],
    ["logs", "done", "--attempt", "0"],
    ["logs", "done", "--attempt", "2"],
    ["wait", "done", "--timeout", "-1"],
    ["wait", "later", "--timeout", "nan"],  # NaN never compares: it waited forever, spinning
    ["worker", "stop", "--timeout", "-1"],
    ["worker", "stop", "--timeout", "nan"],
    ["wait", "bad id!"],
    ["worker", "start", "--count", "0"],
    ["worker", "start", "--count", "-2"],
    ["worker", "start", "--count", "100000"],  # would start 100000 threads
    ["worker", "start", "--count", "x"],
    ["worker", "stop", "--timeout", "soon"],
    ["worker"],
    ["worker", "dance"],
    ["dlq", "retry"],
    ["dlq", "retry", "bad", "--all"],
    ["dlq", "list", "--limit", "0"],
    ["config", "get", "colour"],
    ["config", "set", "colour", "red"],
    ["config", "set", "max-retries", "-1"],
    ["config", "set", "max-retries", "lots"],
    ["config", "set", "max-retries", "2.5"],
    ["config", "set", "backoff-base", "-1"],
    ["config", "set", "poll-interval", "0"],
    ["config", "set", "lease-timeout", "0.5"],
    ["config", "set", "worker-count", "-1"],
    ["config", "set", "output-limit", "nan"],
    ["config", "set", "job-timeout", "inf"],
    ["config", "set", "max-retries"],
    ["prune", "--state", "pending", "--older-than", "1d"],
    ["prune", "--state", "completed", "--older-than", "7x"],
    ["prune", "--state", "completed", "--older-than", "-1d"],
    ["prune", "--state", "completed"],
    ["cancel"],
    ["frobnicate"],
    ["list", "--bogus-flag"],
]


@pytest.mark.parametrize("argv", INVALID, ids=[" ".join(a)[:60] for a in INVALID])
def test_invalid_input_exits_2_with_one_line_and_changes_nothing(argv, cli, queue, seeded):
    result = cli(*argv)
    assert_one_line_error(result, 2)
    assert result.out == ""
    assert snapshot(queue) == seeded


def test_error_messages_name_the_valid_choices(cli):
    err = cli("config", "set", "colour", "red").err
    assert all(key in err for key in SETTING_KEYS)
    err = cli("config", "set", "lease-timeout", "0").err
    assert "lease-timeout" in err and ">= 1" in err
    err = cli("config", "set", "poll-interval", "0").err
    assert ">= 0.05" in err
    err = cli("enqueue", '{"command": "true", "colour": "red"}').err
    assert "'colour'" in err and "max_retries" in err and "run_at" in err
    assert "pending" in cli("list", "--state", "bogus").err
    assert cli("config", "set", "worker-count", "0").code == 0  # the app then only watches
    started = cli("worker", "start", "--burst")  # it blamed a --count that was never given
    assert started.code == 2 and "worker-count setting is 0" in started.err and "--count N" in started.err


def test_operation_failures_exit_1_with_one_line(cli, queue, seeded):
    assert_one_line_error(cli("show", "missing"), 1)
    assert_one_line_error(cli("logs", "missing"), 1)
    assert_one_line_error(cli("logs", "later"), 1)  # no attempt yet
    assert_one_line_error(cli("cancel", "done"), 1)
    assert_one_line_error(cli("wait", "missing"), 1)
    assert_one_line_error(cli("dlq", "retry", "done"), 1)
    assert_one_line_error(cli("enqueue", '{"command": "true", "id": "done"}'), 1)  # id taken
    assert snapshot(queue) == seeded


def test_bulk_enqueue_is_all_or_nothing_and_names_the_line(cli, queue, seeded):
    good = json.dumps({"command": "true"})
    cases = {
        "line 3": [good, "", json.dumps({"command": "true", "prio": 1}), good],  # blank lines count
        "line 2": [good, "{not json", good],
        "line 4": [good, good, good, json.dumps({"command": ""})],
        "line 1": [json.dumps(["a"])],
        "line 2 ": [good, '{"command": "echo \\udcff"}'],
    }
    for where, rows in cases.items():
        result = cli("enqueue", "-", input="\n".join(rows) + "\n")
        assert_one_line_error(result, 2)
        assert where.strip() in result.err
        assert result.out == ""
        assert snapshot(queue) == seeded
    dup = "\n".join(json.dumps({"command": "true", "id": i}) for i in ("x1", "x2", "x1"))
    result = cli("enqueue", "-", input=dup + "\n")
    assert_one_line_error(result, 2)
    assert "line 3" in result.err
    taken = "\n".join(json.dumps({"command": "true", "id": i}) for i in ("new1", "done"))
    result = cli("enqueue", "-", input=taken + "\n")
    assert_one_line_error(result, 1)
    assert "line 2" in result.err or "item 2" in result.err
    assert_one_line_error(cli("enqueue", "-", input=""), 2)
    assert snapshot(queue) == seeded

    rows = [json.dumps({"command": f"echo {i}", "priority": i % 3}) for i in range(500)]
    result = cli("enqueue", "-", input="\ufeff" + "\n".join(rows) + "\n")  # a BOM first, as some editors save
    assert result.code == 0 and result.err == ""
    ids = result.out.split()
    assert len(ids) == 500 == len(set(ids))
    assert queue.counts()["pending"] == 501


def test_wait_exit_codes(cli, queue):
    configure(queue, poll_interval=0.1)
    ok = enqueue(cli, command="true")
    bad = enqueue(cli, command="exit 1", max_retries=0)
    assert cli("worker", "start", "--burst").code == 0
    slow = enqueue(cli, command="true", delay=3600)
    result = cli("wait", ok)
    assert result.code == 0 and "completed" in result.out
    result = cli("wait", ok, bad)
    assert result.code == 1 and "dead" in result.out
    started = time.monotonic()
    result = cli("wait", ok, slow, "--timeout", "0.5")
    assert_one_line_error(result, 1)
    assert "timed out" in result.err and time.monotonic() - started < 10


def test_wait_blocks_until_the_job_finishes(cli, queue, spawn_worker):
    configure(queue, poll_interval=0.1)
    job_id = enqueue(cli, command="sleep 0.5")
    spawn_worker()
    assert cli("wait", job_id, "--timeout", "20").code == 0
    assert queue.job(job_id).state == "completed"


def test_wait_goes_on_when_a_job_it_waits_for_is_pruned(cli, queue, spawn_worker, db):
    """A pruned job is a finished one: `wait` keeps its last state seen and waits for the others (it
    stopped at once with "no job with id")."""
    configure(queue, poll_interval=0.1)
    done = enqueue(cli, command="true")
    assert cli("worker", "start", "--burst").code == 0
    slow = enqueue(cli, command="sleep 2")
    waiter = subprocess.Popen([str(BIN / "queuectl"), "--db", db, "wait", done, slow, "--timeout", "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    time.sleep(0.5)  # it has read both once
    spawn_worker()
    assert cli("prune", "--state", "completed", "--older-than", "0s").out.strip() == "deleted 1 completed job(s)"
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert out.split() == [done, "completed", slow, "completed"]


def test_prune(cli, queue):
    configure(queue, poll_interval=0.1)
    done = enqueue(cli, command="true")
    dead = enqueue(cli, command="exit 1", max_retries=0)
    assert cli("worker", "start", "--burst").code == 0
    waiting = enqueue(cli, command="true", delay=3600)
    result = cli("prune", "--state", "completed", "--older-than", "1h")
    assert (result.code, result.out.strip()) == (0, "deleted 0 completed job(s)")
    result = cli("prune", "--state", "completed", "--older-than", "0s")
    assert (result.code, result.out.strip()) == (0, "deleted 1 completed job(s)")
    assert cli("show", done).code == 1 and cli("logs", done).code == 1
    assert queue.job(dead).state == "dead" and queue.job(waiting).state == "pending"
    assert cli("prune", "--state", "dead", "--older-than", "0").out.strip() == "deleted 1 dead job(s)"
    assert [j.id for j in queue.jobs()] == [waiting]


def test_state_repeats_or_takes_a_list_in_list_and_prune(cli, queue):
    """`--state a --state b` kept only b: `list` showed "no jobs" beside pending ones, and `prune`
    pruned one state of the two."""
    configure(queue, poll_interval=0.1)
    done = enqueue(cli, command="true")
    dead = enqueue(cli, command="exit 1", max_retries=0)
    assert cli("worker", "start", "--burst").code == 0
    waiting = enqueue(cli, command="true", delay=3600)
    both = cli("list", "--state", "pending", "--state", "dead", "--json").json()
    assert sorted(j["id"] for j in both) == sorted([waiting, dead])
    assert sorted(j["id"] for j in cli("list", "--state", "completed,dead", "--json").json()) == sorted([done, dead])
    bad = cli("list", "--state", "pending,bogus")
    assert bad.code == 2 and "invalid state 'bogus'" in bad.err and "pending, processing" in bad.err
    assert cli("prune", "--state", "pending", "--older-than", "0s").code == 2
    result = cli("prune", "--state", "completed", "--state", "dead", "--older-than", "0s")
    assert (result.code, result.out.strip()) == (0, "deleted 2 completed or dead job(s)")
    assert [j.id for j in queue.jobs()] == [waiting]


def test_logs_by_attempt_and_show_history(cli, queue):
    configure(queue, poll_interval=0.1, backoff_base=0)
    job_id = enqueue(cli, command="echo out-$QUEUECTL_ATTEMPT; echo err-$QUEUECTL_ATTEMPT >&2; "
                                   "[ $QUEUECTL_ATTEMPT -ge 3 ]", max_retries=5)
    assert cli("worker", "start", "--burst").code == 0
    last = cli("logs", job_id)
    assert (last.code, last.out, last.err) == (0, "out-3\n", "err-3\n")
    first = cli("logs", job_id, "--attempt", "1")
    assert (first.out, first.err) == ("out-1\n", "err-1\n")
    assert cli("logs", job_id, "--attempt", "2").out == "out-2\n"
    assert_one_line_error(cli("logs", job_id, "--attempt", "4"), 2)
    shown = cli("show", job_id)
    assert shown.code == 0
    assert "attempt #1" in shown.out and "attempt #3" in shown.out and "exit code 1" in shown.out


def test_show_prints_env_and_ids_as_they_are_given_not_as_python_values(cli, queue):
    enqueue(cli, command="true", id="first")
    enqueue(cli, command="env", id="second", env={"GREETING": "hello there", "PLAIN": "x"}, after=["first"])
    fields = dict(line.split(":", 1) for line in cli("show", "second").out.split("\n\n")[0].splitlines())
    assert fields["env"].strip() == "GREETING='hello there' PLAIN=x"
    assert fields["after"].strip() == fields["waiting_on"].strip() == "first"
    assert cli("show", "first").out.count("after:        -") == 1


def test_output_is_kept_to_the_tail_of_output_limit(cli, queue):
    configure(queue, output_limit=100)
    job_id = enqueue(cli, command="seq 1 1000; seq 1 1000 >&2")
    assert cli("worker", "start", "--burst").code == 0
    result = cli("logs", job_id)
    assert len(result.out) == 100 and result.out.endswith("999\n1000\n")
    assert len(result.err) == 100 and result.err.endswith("1000\n")


def check_job(obj: dict, runs: bool = False) -> None:
    assert list(obj) == JOB_FIELDS + (["runs"] if runs else [])
    for key in JOB_TIMES:
        assert obj[key] is None or ISO_UTC.fullmatch(obj[key]), (key, obj[key])
    assert obj["state"] in STATES


def test_json_on_every_listing(cli, queue, spawn_worker, tmp_path):
    configure(queue, poll_interval=0.1)
    enqueue(cli, command="echo hi", id="j1", timeout=30, priority=2)
    enqueue(cli, command="exit 1", id="j2", max_retries=0)
    assert cli("worker", "start", "--burst").code == 0
    enqueue(cli, command=f"touch {tmp_path}/go; sleep 30", id="j3")
    spawn_worker(count=2)
    wait_until(lambda: (tmp_path / "go").exists())
    wait_until(lambda: any(w.job_id for w in queue.workers()))

    def run(*argv):
        result = cli(*argv)
        assert result.code == 0, result.err
        return json.loads(result.out)  # nothing but JSON on stdout

    listing = run("list", "--json")
    assert [j["id"] for j in listing] == ["j3", "j2", "j1"]  # newest first
    for job in listing:
        check_job(job)
    j1 = {j["id"]: j for j in listing}["j1"]
    assert (j1["state"], j1["timeout"], j1["priority"], j1["exit_code"], j1["attempts"]) == ("completed", 30, 2, 0, 1)
    assert run("list", "--state", "dead", "--json")[0]["id"] == "j2"
    assert len(run("list", "--limit", "1", "--json")) == 1
    assert run("list", "--state", "failed", "--json") == []

    shown = run("show", "j1", "--json")
    check_job(shown, runs=True)
    assert list(shown["runs"][0]) == ["number", "attempt", "worker", "started_at", "finished_at", "duration",
                                      "exit_code", "error", "stdout", "stderr", "stdout_dropped", "stderr_dropped"]

    status = run("status", "--json")
    assert list(status["counts"]) == STATES
    assert status["counts"] == {"pending": 0, "processing": 1, "completed": 1, "failed": 0, "dead": 1}
    assert len(status["workers"]) == 2

    workers = run("worker", "list", "--json")
    assert len(workers) == 2
    for w in workers:
        assert list(w) == ["id", "host", "pid", "job", "started_at", "heartbeat_at"]
        assert ISO_UTC.fullmatch(w["started_at"]) and ISO_UTC.fullmatch(w["heartbeat_at"])
    assert sorted(str(w["job"]) for w in workers) == ["None", "j3"]

    dead = run("dlq", "list", "--json")
    assert [j["id"] for j in dead] == ["j2"]
    check_job(dead[0])

    config = run("config", "list", "--json")
    assert list(config) == SETTING_KEYS
    assert config["poll-interval"] == 0.1 and config["max-retries"] == 3

    assert cli("cancel", "j3").code == 0


def test_huge_limit_lists_everything(cli, queue):
    queue.enqueue("true", id="only")
    for argv in (["list"], ["dlq", "list"]):
        result = cli(*argv, "--limit", "99999999999999999999", "--json")
        assert result.code == 0, result.err
    assert [j["id"] for j in cli("list", "--limit", "99999999999999999999", "--json").json()] == ["only"]


def test_json_listings_of_an_empty_database(cli):
    for argv in (["list"], ["dlq", "list"], ["worker", "list"]):
        result = cli(*argv, "--json")
        assert (result.code, json.loads(result.out)) == (0, [])
    status = cli("status", "--json").json()
    assert status == {"counts": dict.fromkeys(STATES, 0), "workers": [], "queues": [], "latency_seconds": 0,
                      "finished_total": {"completed": 0, "dead": 0}}


def test_config_defaults_validation_and_persistence(cli):
    defaults = cli("config", "list", "--json").json()
    assert defaults == {"max-retries": 3, "backoff-base": 2, "backoff-max": 3600, "job-timeout": 0,
                        "poll-interval": 0.5, "lease-timeout": 30, "worker-count": 1, "output-limit": 65536,
                        "on-completed": "", "on-dead": "", "hook-timeout": 30}
    values = {"max-retries": "5", "backoff-base": "1.5", "backoff-max": "60", "job-timeout": "120",
              "poll-interval": "0.25", "lease-timeout": "10", "worker-count": "4", "output-limit": "1024"}
    for key, value in values.items():
        result = cli("config", "set", key, value)
        assert result.code == 0, result.err
    for key, value in values.items():  # each a new process: kept in the database
        assert float(cli("config", "get", key).out) == float(value)
    assert cli("config", "list", "--json").json() == {**{k: float(v) for k, v in values.items()},
                                                      "on-completed": "", "on-dead": "", "hook-timeout": 30}
    human = cli("config", "list").out
    assert "poll-interval" in human and "0.25" in human
    assert cli("config", "set", "max-retries", "3").code == 0
    assert cli("config", "get", "max-retries").out.strip() == "3"
    assert cli("enqueue", '{"command": "true", "id": "m"}').code == 0
    assert cli("show", "m", "--json").json()["max_retries"] == 3


def test_literal_output_of_untrusted_text(cli, queue):
    command = r"printf '[bold]x[/bold] \033[31mred\033[0m\r\n'"
    job_id = enqueue(cli, command=command, id="lit")
    assert cli("worker", "start", "--burst").code == 0
    logs = subprocess.run([str(BIN / "queuectl"), "--db", queue.location, "logs", job_id], capture_output=True,
                          env=clean_env())
    assert logs.stdout == b"[bold]x[/bold] \x1b[31mred\x1b[0m\r\n"  # piped: the exact bytes
    listing = cli("list").out
    assert "[bold]x[/bold]" in listing and "\x1b" not in listing
    assert "\\033[31m" in listing  # the command itself holds a backslash sequence, shown as typed
    shown = cli("show", job_id).out
    assert "[bold]x[/bold]" in shown and "\x1b" not in shown and "\\e[31mred" in shown
    assert cli("show", job_id, "--json").json()["runs"][0]["stdout"] == "[bold]x[/bold] \x1b[31mred\x1b[0m\r\n"


def test_logs_on_a_terminal_makes_escapes_visible(cli, queue):
    job_id = enqueue(cli, command=r"printf 'a\033]0;pwned\007b\033[2Jc\n'")
    assert cli("worker", "start", "--burst").code == 0
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([str(BIN / "queuectl"), "--db", queue.location, "logs", job_id], stdout=follower,
                              stderr=subprocess.PIPE, env=clean_env(), timeout=30)
        os.close(follower)
        follower = -1
        data = read_to_end(leader)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode == 0
    assert b"\x1b" not in data and b"\x07" not in data
    assert b"a\\e]0;pwned\\ab\\e[2Jc" in data


def test_worker_lines_settings_and_other_hosts_workers_show_control_characters_as_escapes(cli, queue):
    """Text others write reaches the terminal as escapes, never as orders to it: a job's error (its
    cwd as given), a hook's text, another machine's worker id and host."""
    from core.models import WorkerInfo

    enqueue(cli, command="true", id="cwd", cwd="/nowhere\x1b]0;PWN\x07\x1b[2J", max_retries=0)
    worker = cli("worker", "start", "--burst")
    assert worker.code == 0 and "job cwd dead" in worker.err
    assert "\x1b" not in worker.err and "\x07" not in worker.err and "/nowhere\\e]0;PWN\\a\\e[2J" in worker.err
    hook = "echo \x1b]0;HOOK\x07done"
    for result in (cli("config", "set", "on-dead", hook), cli("config", "get", "on-dead"), cli("config", "list")):
        assert result.code == 0 and "\x1b" not in result.out and "echo \\e]0;HOOK\\adone" in result.out
    assert cli("config", "list", "--json").json()["on-dead"] == hook  # JSON: the text as it is
    now = time.time()
    queue.store.register_worker(WorkerInfo("far:1:\x1b[31mred", "far\x1b[2Jhost", 1, None, now, now))
    listing = cli("worker", "list").out
    assert "\x1b" not in listing and "far:1:\\e[31mred" in listing and "far\\e[2Jhost" in listing


@pytest.mark.sqlite_only
def test_text_written_into_the_database_directly_is_shown_as_escapes(cli, db):
    """enqueue checks ids and queue names, but whoever may write the database need not use it: an id,
    queue, state, cron or zone as the database holds them never orders the terminal about, nor
    forges a line, in the worker's lines or in a listing."""
    import sqlite3

    enqueue(cli, command="true", id="plain")
    assert cli("schedule", "add", "nightly", "30 2 * * *", '{"command": "true"}').code == 0
    evil_id, evil_queue = "x\x1b]0;PWN\x07\njob deploy completed", "q\x1b[2J"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET id = ?, queue = ? WHERE id = 'plain'", (evil_id, evil_queue))
        conn.execute("UPDATE schedules SET cron = ?, tz = ? WHERE name = 'nightly'", ("30 2 * * *\x1b[2J", "UTC\x07"))
        conn.execute("INSERT INTO queues (name, max_running) VALUES (?, 2)", (evil_queue,))
    outputs = [cli("list").out, cli("list", "--queue", evil_queue).out, cli("queue", "list").out, cli("status").out,
               cli("schedule", "list").out]
    worker = cli("worker", "start", "--burst")
    assert worker.code == 0
    outputs += [worker.err, cli("wait", evil_id).out]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text, text
    assert "x\\e]0;PWN\\a\\njob deploy completed completed" in worker.err  # one line, escaped
    assert not any(line.startswith("job deploy") for line in worker.err.splitlines())
    assert len(outputs[0].splitlines()) == 2  # the header and the job's one row
    assert "q\\e[2J" in outputs[0] and "q\\e[2J" in outputs[2] and "UTC\\a" in outputs[4]


def test_commands_ids_with_markup_are_shown_literally(cli):
    enqueue(cli, command="echo '[red]hi[/]' #\x1b[2J", id="x[1]" if False else "x.1")
    out = cli("list").out
    assert "[red]hi[/]" in out and "\x1b" not in out and "\\e[2J" in out


def test_help_on_every_command_has_an_example(cli):
    commands = [[], ["enqueue"], ["list"], ["show"], ["logs"], ["status"], ["wait"], ["cancel"], ["worker", "start"],
                ["worker", "stop"], ["worker", "list"], ["dlq", "list"], ["dlq", "retry"], ["config", "list"],
                ["config", "get"], ["config", "set"], ["prune"]]
    for argv in commands:
        result = cli(*argv, "--help")
        assert result.code == 0 and "example" in result.out, argv


def test_headless_entry_points(db, tmp_path):
    import sys

    for argv in ([str(BIN / "queuectl-tui"), "--db", db, "--headless", "status", "--json"],
                 [sys.executable, "-m", "queuectl_tui", "--db", db, "--headless", "status", "--json"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["counts"]["pending"] == 0


def test_an_empty_db_is_a_usage_error_not_the_default(tmp_path):
    """`--db "$UNSET_VAR"` must not quietly open (and create) the default database."""
    env = clean_env(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path))
    for argv in ([str(BIN / "queuectl"), "--db", "", "status"], [str(BIN / "queuectl-tui"), "--db", " ", "--headless", "status"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 2 and result.stdout == "", argv
        assert result.stderr.startswith("error: argument --db: must not be empty") and result.stderr.count("\n") == 1
    assert not (tmp_path / "data").exists()


def test_bad_input_aimed_at_a_database_not_made_yet_makes_none(tmp_path):
    """A creating command (enqueue, config set, queue, schedule add, worker start) with bad input made
    an empty database first: a later `status` on the mistyped path then found it. Now the input is
    judged first, by the same code, and only good input makes the file."""
    db = tmp_path / "typo.db"

    def queuectl(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "queuectl"), "--db", str(db), *args], input=input, capture_output=True,
                              text=True, env=clean_env(), timeout=60)

    for args, stdin, says in [
        (["config", "set", "max-retries", "-5"], None, "max-retries must be"),
        (["enqueue", "{bad"], None, "invalid JSON"),
        (["enqueue", '{"command": "x", "after": ["a"]}'], None, "after: no job 'a'"),
        (["enqueue", "-"], '{"command": "x"}\n{"command": "y", "after": ["nope"]}\n', "line 2: after: no job 'nope'"),
        (["queue", "limit", "BAD", "1"], None, "queue must match"),
        (["schedule", "add", "s", "bad", '{"command": "x"}'], None, "5 fields"),
        (["schedule", "add", "s", "* * * * *", '{"command": "x"}', "--tz", "Nowhere/Land"], None, "Nowhere/Land"),
        (["worker", "start", "--count", "0"], None, "--count must be between 1"),
    ]:
        result = queuectl(*args, input=stdin)
        assert result.returncode == 2 and says in result.stderr, (args, result.stderr)
        assert list(tmp_path.iterdir()) == [], args
    assert queuectl("status").returncode == 1  # still no database there
    # good input makes it, and the lines read for the check are the ones enqueued
    made = queuectl("enqueue", "-", input='{"command": "true", "id": "a"}\n{"command": "true", "after": ["a"]}\n')
    assert made.returncode == 0 and made.stdout.split()[0] == "a" and len(made.stdout.split()) == 2, made.stderr
    assert queuectl("worker", "start", "--burst").returncode == 0
    assert json.loads(queuectl("status", "--json").stdout)["counts"]["completed"] == 2


def test_queuectl_db_environment_variable(db):
    env = clean_env(QUEUECTL_DB=db)
    result = subprocess.run([str(BIN / "queuectl"), "enqueue", '{"command": "true", "id": "via-env"}'],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    from core import Queue

    with Queue.open(db) as q:
        assert q.job("via-env").state == "pending"


def test_undecodable_bytes_on_stdin_are_invalid_input(db, queue, seeded):
    proc = subprocess.run([str(BIN / "queuectl"), "--db", db, "enqueue", "-"], input=b'{"command": "true"}\n'
                          b'{"command": "echo \xff"}\n', capture_output=True, env=clean_env(LC_ALL="C"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(b"error: line 2") and proc.stderr.count(b"\n") == 1
    assert snapshot(queue) == seeded


def test_undecodable_stdin_under_a_strict_decoder_is_the_same_error_and_makes_no_database(db, queue, seeded,
                                                                                          tmp_path):
    """With a strict stdin decoder (PYTHONIOENCODING=utf-8:strict, or a locale's) the bytes raised
    UnicodeDecodeError: an internal error on a database, and on a missing one an empty database
    made and "no jobs on stdin"."""
    data = b'{"command": "true"}\n\xff\n'
    for target in (db, str(tmp_path / "new.db")):
        proc = subprocess.run([str(BIN / "queuectl"), "--db", target, "enqueue", "-"], input=data, capture_output=True,
                              env=clean_env(PYTHONIOENCODING="utf-8:strict"), timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith(b"error: line 2"), (target, proc.stderr)
    assert snapshot(queue) == seeded and not (tmp_path / "new.db").exists()


def test_an_unexpected_error_is_still_one_line(db, monkeypatch, capsys):
    import queuectl_tui.cli as cli_module
    import queuectl_tui.cli.jobs as jobs_module

    def broken(q, args):
        raise ValueError("boom")

    monkeypatch.setattr(jobs_module, "cmd_status", broken)
    monkeypatch.delenv("QUEUECTL_DEBUG", raising=False)
    assert cli_module.run(["--db", db, "status"], "queuectl", tui=False) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (ValueError: boom)") and err.count("\n") == 1
    monkeypatch.setenv("QUEUECTL_DEBUG", "1")
    with pytest.raises(ValueError):
        cli_module.run(["--db", db, "status"], "queuectl", tui=False)


def test_config_values_are_printed_exactly(cli):
    for key, value in (("output-limit", "67108864"), ("job-timeout", "1234567"), ("backoff-base", "1.23456789"),
                       ("poll-interval", "0.25"), ("backoff-max", "31536000")):
        assert cli("config", "set", key, value).out == f"{key} = {value}\n"
        assert cli("config", "get", key).out == f"{value}\n"
        assert f"{key}  " in cli("config", "list").out and value in cli("config", "list").out


def test_a_value_that_looks_like_an_option_gets_told_how_to_pass_it(cli):
    """argparse takes -1d for an option and says a value is missing; the line says how to give it,
    and given so, the value's own problem is what the user reads."""
    result = cli("prune", "--older-than", "-1d")
    assert_one_line_error(result, 2)
    assert "expected one argument; for the value -1d, write --older-than=-1d (see: queuectl prune --help)" in result.err
    assert "invalid duration '-1d'" in cli("prune", "--older-than=-1d").err
    result = cli("config", "set", "job-timeout", "-5m")
    assert_one_line_error(result, 2)
    assert "for the value -5m, write -- before it" in result.err
    assert "job-timeout must be a number >= 0" in cli("config", "set", "job-timeout", "--", "-5m").err
    assert "for the value" not in cli("list", "--limit").err  # no such value: no hint
