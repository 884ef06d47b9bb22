"""unique_key: while a job with the key is unfinished, an enqueue with it inserts nothing and gives
that job's id (exit 0, a note on stderr); the database's unique index decides between racers."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import BIN, clean_env


def test_an_unfinished_job_holds_its_key_and_a_finished_one_frees_it(cli):
    first = cli("enqueue", '{"command": "exit 1", "unique_key": "sync", "max_retries": 0}')
    again = cli("enqueue", '{"command": "something else", "unique_key": "sync"}')
    assert first.code == again.code == 0 and again.out == first.out
    assert again.err.startswith(f"note: job {first.out.strip()} holds unique_key 'sync'")
    assert len(cli("list", "--json").json()) == 1
    assert cli("show", first.out.strip(), "--json").json()["unique_key"] == "sync"
    assert cli("worker", "start", "--burst").code == 0  # it goes dead: the key is free
    third = cli("enqueue", '{"command": "true", "unique_key": "sync"}')
    assert third.code == 0 and third.out != first.out and third.err == ""
    assert cli("worker", "start", "--burst").code == 0  # completed: free again
    fourth = cli("enqueue", '{"command": "true", "unique_key": "sync"}')
    assert fourth.out not in (first.out, third.out) and len(cli("list", "--json").json()) == 3


def test_enqueue_stdin_gives_each_line_the_holder_of_its_key(cli):
    lines = [{"command": "a", "unique_key": "k"}, {"command": "b"}, {"command": "c", "unique_key": "k"},
             {"id": "named", "command": "d", "unique_key": "other"}]
    result = cli("enqueue", "-", input="".join(json.dumps(line) + "\n" for line in lines))
    ids = result.out.split()
    assert result.code == 0 and ids[2] == ids[0] and ids[3] == "named" and len(set(ids)) == 3
    assert result.err == f"note: line 3: job {ids[0]} holds unique_key 'k' and is not finished: nothing enqueued\n"
    assert cli("status", "--json").json()["counts"]["pending"] == 3


def test_concurrent_enqueuers_insert_one_job(db, cli):
    job = json.dumps({"command": "true", "unique_key": "nightly-sync"})
    procs = [subprocess.Popen([str(BIN / "queuectl"), "--db", db, "enqueue", job], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=clean_env()) for _ in range(8)]
    results = [(p.wait(60), p.stdout.read().strip(), p.stderr.read()) for p in procs]
    assert {code for code, _, _ in results} == {0}, results
    assert len({out for _, out, _ in results}) == 1  # every one printed the same id
    assert sum("note:" in err for _, _, err in results) == 7
    assert len(cli("list", "--json").json()) == 1


def test_a_bad_unique_key_is_refused(cli):
    for value in ('""', "5", '"' + "k" * 201 + '"'):
        result = cli("enqueue", '{"command": "true", "unique_key": %s}' % value)
        assert result.code == 2 and "unique_key must be a string of 1..200 characters" in result.err
    assert cli("list", "--json").json() == []


def test_a_dead_job_is_not_retried_while_another_holds_its_key(cli):
    dead = cli("enqueue", '{"command": "exit 1", "unique_key": "k", "max_retries": 0}').out.strip()
    assert cli("worker", "start", "--burst").code == 0
    holder = cli("enqueue", '{"command": "true", "unique_key": "k", "delay": 3600}').out.strip()
    assert cli("dlq", "retry", "--all").out == "retried 0 job(s)\n"
    assert cli("show", dead, "--json").json()["state"] == "dead"
    assert cli("cancel", holder).code == 0  # now dead as well: retrying both frees one of them only
    assert cli("dlq", "retry", dead).code == 0 and cli("show", dead, "--json").json()["state"] == "pending"


@pytest.mark.parametrize("how", [["--all"], ["a", "b", "plain"]], ids=["all", "named"])
def test_of_several_dead_jobs_with_one_key_the_latest_is_retried(cli, how):
    """A job with a key that died twice leaves two dead jobs holding it: a retry of both brings back
    the latest, leaves the other dead, and retries every other job (it retried nothing, with an
    internal error)."""
    for job_id in ("a", "b"):
        assert cli("enqueue", json.dumps({"id": job_id, "command": "true", "unique_key": "k"})).code == 0
        assert cli("cancel", job_id).code == 0
    assert cli("enqueue", '{"id": "plain", "command": "true"}').code == 0 and cli("cancel", "plain").code == 0
    result = cli("dlq", "retry", *how)
    assert result.out == "retried 2 job(s)\n"
    if how == ["--all"]:
        assert (result.code, result.err) == (0, "")
    else:  # named: the one left dead is said, exit 1
        assert (result.code, result.err) == (1, "error: job 'a' stays dead: an unfinished job holds its unique_key 'k'\n")
    assert {job_id: cli("show", job_id, "--json").json()["state"] for job_id in ("a", "b", "plain")} == \
        {"a": "dead", "b": "pending", "plain": "pending"}
