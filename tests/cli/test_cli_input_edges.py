"""Input at the edges (issue 11, item 10; issue 17, item 9): what the JSON parser itself cannot take is
invalid input (exit 2, one line), not an internal error; settings have sane minimums; the wording of
the common mistakes."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import snapshot

DEEP = "[" * 20_000 + "]" * 20_000
LONG_INT = '{"command": "true", "priority": ' + "9" * 4_301 + "}"


def assert_one_line_error(result, code: int) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "internal error" not in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("text, says", [
    (DEEP, "nested too deeply"),
    ('{"command": "true", "priority": ' + DEEP + "}", "nested too deeply"),
    (LONG_INT, "an integer has more than 4,300 digits"),
], ids=["deep", "deep-field", "long-int"])
def test_json_the_parser_cannot_take_is_invalid_input(cli, queue, text: str, says: str):
    before = snapshot(queue)
    for result in (cli("enqueue", text), cli("enqueue", "-", input=f'{{"command": "true"}}\n{text}\n')):
        assert_one_line_error(result, 2)
        assert says in result.err
    assert cli("enqueue", "-", input=f"{text}\n").err.startswith("error: line 1: ")
    assert snapshot(queue) == before


NOT_UTF8 = "\udcff"  # an argument's byte 0xff, as Python gives it; JSON "\\ud800" is a lone surrogate too


@pytest.mark.parametrize("args, says", [
    (["enqueue", '{"command": "true", "unique_key": "\\ud800"}'], "unique_key must be valid UTF-8"),
    (["schedule", "add", "s", "* * * * *", '{"command": "true", "unique_key": "\\ud800"}'],
     "unique_key must be valid UTF-8"),
    (["config", "set", "on-dead", NOT_UTF8], "on-dead must be valid UTF-8"),
    (["show", NOT_UTF8], "text must be valid UTF-8"),
    (["logs", NOT_UTF8], "text must be valid UTF-8"),
    (["cancel", NOT_UTF8], "text must be valid UTF-8"),
    (["dlq", "retry", NOT_UTF8], "text must be valid UTF-8"),
], ids=["unique-key", "schedule-unique-key", "setting", "show", "logs", "cancel", "dlq-retry"])
def test_text_that_is_not_utf8_is_invalid_input(cli, queue, args: list[str], says: str):
    assert cli("enqueue", '{"id": "kept", "command": "true"}').code == 0
    before = snapshot(queue)
    result = cli(*args)
    assert_one_line_error(result, 2)
    assert says in result.err
    assert snapshot(queue) == before


def test_values_in_messages_are_cut_short(cli):
    nested = '{"command": "true", "priority": ' + "[" * 900 + "]" * 900 + "}"
    for text in (nested, json.dumps({"command": "true", "id": "x" * 100_000})):
        result = cli("enqueue", text)
        assert_one_line_error(result, 2)
        assert len(result.err) < 300 and "characters" in result.err
    too_long = cli("enqueue", json.dumps({"command": "true", "id": "a" * 129}))
    assert too_long.code == 2 and "(129 characters)" in too_long.err  # the id's length, not its quoted form's


@pytest.mark.parametrize("value", ["5e-324", "0", "0.01", "0.049"])
def test_poll_interval_has_a_floor(cli, value: str):
    result = cli("config", "set", "poll-interval", value)
    assert_one_line_error(result, 2)
    assert "poll-interval must be a number >= 0.05" in result.err
    assert cli("config", "set", "poll-interval", "0.05").out == "poll-interval = 0.05\n"


# --- wording (issue 17, item 9) --------------------------------------------------------------------

def test_a_single_job_is_not_called_item_1(cli):
    assert cli("enqueue", '{"id": "fail1", "command": "true"}').code == 0
    taken = cli("enqueue", '{"id": "fail1", "command": "true"}')
    assert (taken.code, taken.err) == (1, "error: job id 'fail1' is already taken\n")
    bad = cli("enqueue", '{"command": "true", "priority": "high"}')
    assert (bad.code, bad.err) == (2, "error: priority must be an integer, got 'high'\n")
    # from stdin the line is named, counting blank lines as the reader does
    lines = '\n{"command": "true"}\n\n{"id": "fail1", "command": "true"}\n'
    assert cli("enqueue", "-", input=lines).err == "error: line 4: job id 'fail1' is already taken\n"
    lines = '\n{"id": "z", "command": "true"}\n\n{"id": "z", "command": "true"}\n'
    assert cli("enqueue", "-", input=lines).err == "error: line 4: id 'z' is also used by line 2\n"


def test_a_bare_command_is_told_what_a_job_looks_like(cli):
    result = cli("enqueue", "echo hi")
    assert_one_line_error(result, 2)
    assert result.err.startswith("error: invalid JSON (Expecting value")
    assert result.err.endswith('; a job is a JSON object like {"command": "echo hi"}\n')


@pytest.mark.parametrize("key, text, stored", [
    ("job-timeout", "5m", "300"), ("job-timeout", "90", "90"), ("job-timeout", "1.5", "1.5"),
    ("job-timeout", "30s", "30"), ("backoff-max", "12h", "43200"), ("backoff-max", "7d", "604800"),
    ("lease-timeout", "2m", "120"), ("poll-interval", "1.5s", "1.5"),
])
def test_settings_in_seconds_take_durations(cli, key: str, text: str, stored: str):
    assert cli("config", "set", key, text).out == f"{key} = {stored}\n"
    assert cli("config", "get", key).out == f"{stored}\n"


def test_bad_durations_are_usage_errors(cli):
    for args in (["config", "set", "job-timeout", "5x"], ["config", "set", "max-retries", "5m"],
                 ["wait", "j", "--timeout", "soon"], ["worker", "stop", "--timeout", "-1"],
                 ["prune", "--state", "dead", "--older-than", "1y"]):
        assert_one_line_error(cli(*args), 2)
    assert "(seconds, or a duration such as 90s, 5m, 12h, 7d)" in cli("config", "set", "job-timeout", "5x").err


def test_flags_take_durations(cli):
    assert cli("enqueue", '{"id": "j", "command": "true"}').code == 0
    waited = cli("wait", "j", "--timeout", "0.5s")
    assert waited.code == 1 and "timed out after 0.5s" in waited.err
    assert cli("worker", "stop", "--timeout", "1m").code == 0
    assert cli("prune", "--state", "completed", "--older-than", "1.5h").out == "deleted 0 completed job(s)\n"


def test_a_burst_worker_says_once_what_it_waits_for(cli):
    assert cli("enqueue", '{"id": "later", "command": "true", "delay": 3}').code == 0
    worker = cli("worker", "start", "--burst")
    assert worker.code == 0 and "job later completed" in worker.err
    waiting = [line for line in worker.err.splitlines() if line.startswith("waiting for")]
    assert len(waiting) == 1, worker.err
    said = re.fullmatch(r"waiting for job later due at \d\d:\d\d:\d\d \(in (\d\.\d)s\)", waiting[0])
    assert said and 0 < float(said[1]) <= 3, waiting  # what is left of the delay once the worker is up
