"""Rows written into the database by hand, past enqueue's checks (a role the queue is shared with, a
restored dump): a job that cannot start fails its attempt with the reason, and never takes its
worker down; a time out of range does not stop any listing."""

from __future__ import annotations

import json
import sqlite3

import pytest


@pytest.mark.sqlite_only
def test_jobs_that_cannot_start_fail_their_attempt_and_the_worker_goes_on(cli, db):
    bad = {"eq-name": ("env", '{"A=B": "x"}'), "env-list": ("env", "[1, 2]"), "env-number": ("env", '{"N": 5}'),
           "env-text": ("env", "not json"), "negative-timeout": ("timeout", -5.0),
           "endless-timeout": ("timeout", 1e400)}
    for job_id in (*bad, "fine"):
        assert cli("enqueue", json.dumps({"id": job_id, "command": "echo ran", "max_retries": 0})).code == 0
    with sqlite3.connect(db) as conn:
        for job_id, (column, value) in bad.items():
            conn.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job_id))
    worker = cli("worker", "start", "--burst")
    assert worker.code == 0 and "Traceback" not in worker.err and "stopped on an error" not in worker.err, worker.err
    jobs = {j["id"]: j for j in cli("list", "--json").json()}
    assert jobs["fine"]["state"] == "completed"
    for job_id in bad:
        assert jobs[job_id]["state"] == "dead", jobs[job_id]
        assert jobs[job_id]["last_error"].startswith("could not start: "), jobs[job_id]
    assert "not a positive number" in jobs["negative-timeout"]["last_error"]
    assert "illegal environment variable name" in jobs["eq-name"]["last_error"]
    assert jobs["env-list"]["last_error"] == jobs["env-text"]["last_error"] == \
        "could not start: env is not an object of text values"
    assert cli("show", "env-text").code == 0


@pytest.mark.sqlite_only
def test_a_time_out_of_range_does_not_stop_a_listing(cli, db):
    assert cli("enqueue", '{"id": "far", "command": "true"}').code == 0
    assert cli("enqueue", '{"id": "near", "command": "true"}').code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET run_at = 1e20, created_at = -1e20 WHERE id = 'far'")
    listed = cli("list", "--json")
    assert listed.code == 0 and {j["id"] for j in listed.json()} == {"far", "near"}
    far = cli("show", "far", "--json").json()
    assert (far["run_at"], far["created_at"]) == ("9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z")
    assert cli("show", "far").code == 0 and cli("list").code == 0
