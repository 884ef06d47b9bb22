"""Input at the edges (issue 11, item 10; issue 17, item 9): what the JSON parser itself cannot take is
invalid input (exit 2, one line), not an internal error; settings have sane minimums; the wording of
the common mistakes."""

from __future__ import annotations

import json

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


def test_values_in_messages_are_cut_short(cli):
    nested = '{"command": "true", "priority": ' + "[" * 900 + "]" * 900 + "}"
    for text in (nested, json.dumps({"command": "true", "id": "x" * 100_000})):
        result = cli("enqueue", text)
        assert_one_line_error(result, 2)
        assert len(result.err) < 300 and "characters)" in result.err


@pytest.mark.parametrize("value", ["5e-324", "0", "0.01", "0.049"])
def test_poll_interval_has_a_floor(cli, value: str):
    result = cli("config", "set", "poll-interval", value)
    assert_one_line_error(result, 2)
    assert "poll-interval must be a number >= 0.05" in result.err
    assert cli("config", "set", "poll-interval", "0.05").out == "poll-interval = 0.05\n"
