"""`queuectl enqueue` and `status` load only what they need: the parser of the command given, no
shutil (argparse's terminal width), no OpenSSL (hashlib). Their speed is measured by `make bench`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from queuectl_tui.cli import COMMANDS, command
from queuectl_tui.cli.parser import SUBCOMMANDS, build_parser, command_word
from tests.conftest import BIN, clean_env

ARGVS = [
    ["enqueue", '{"command": "true"}'], ["--db", "x.db", "enqueue", "-"], ["--db=x.db", "list", "--state", "dead"],
    ["show", "j", "--json"], ["logs", "j", "--attempt", "2"], ["status", "--json"], ["wait", "a", "b", "--timeout", "5m"],
    ["cancel", "j"], ["worker", "start", "--count", "2", "--burst"], ["worker", "stop", "--timeout", "10"],
    ["worker", "list"], ["dlq", "retry", "--all"], ["config", "set", "job-timeout", "5m"],
    ["prune", "--state", "dead", "--older-than", "7d"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("tui", [False, True])
def test_the_parser_of_one_command_reads_argv_as_the_whole_parser_does(argv, tui):
    word = command_word(argv, tui)
    assert word in SUBCOMMANDS
    assert build_parser("queuectl", tui, word).parse_args(argv) == build_parser("queuectl", tui).parse_args(argv)


def test_every_command_has_its_parser_and_its_function():
    assert COMMANDS.keys() == SUBCOMMANDS.keys()
    assert all(callable(command(word)) for word in COMMANDS)


def test_anything_unusual_builds_every_command():
    for argv in (["--help"], ["-h", "status"], ["bogus"], [], ["--db"], ["--headless"], ["--workers", "2"]):
        assert command_word(argv, tui=False) is None
    assert command_word(["--workers", "2", "--headless", "status"], tui=True) == "status"


def imported_by(db: str, args: list[str]) -> set[str]:
    """The modules `queuectl --db DB ARGS` imports, as -X importtime lists them."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(BIN / "queuectl"), "--db", db, *args],
                          capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", [["enqueue", '{"command": "true"}'], ["status"]])
def test_a_plain_command_imports_no_shutil_and_no_openssl(db, args):
    imported = imported_by(db, args)
    assert "queuectl_tui.cli" in imported  # the measurement saw the command's own imports
    assert not imported & {"shutil", "_hashlib", "hashlib", "textual", "psycopg"}


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("args", "module"), [(["enqueue", '{"command": "true"}'], "enqueue"), (["status"], "jobs")])
def test_a_command_loads_its_own_module_and_no_other_commands(db, args, module):
    ours = {name for name in imported_by(db, args) if name.startswith("queuectl_tui")}
    assert ours == {"queuectl_tui", "queuectl_tui.cli", "queuectl_tui.cli.parser", "queuectl_tui.cli.output",
                    f"queuectl_tui.cli.{module}"}
