"""The engine and the headless CLI never import Textual or Rich (nor the engine argparse)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env

PROBE = """
import contextlib, io, json, sys
import core, core.clock, core.errors, core.models, core.queue, core.runner, core.store, core.text
import core.validate, core.wake, core.worker, core.pool, core.process_pool, core.chain, core.lifecycle
import core.outcome, core.worker_log
engine_only = sorted(m for m in ("textual", "rich", "argparse") if m in sys.modules)
import queuectl_tui.cli as cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    codes = [cli.run(["--db", sys.argv[1], *argv], "queuectl", tui=False) for argv in
             (["status"], ["enqueue", '{"command": "true"}'], ["list"], ["config", "list"])]
codes.append(cli.run(["--db", sys.argv[1], "--headless", "status", "--json"], "queuectl-tui", tui=True))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
print(json.dumps({"engine": engine_only, "loaded": loaded, "codes": codes}), file=sys.stderr)
"""


def test_engine_and_headless_cli_do_not_import_textual_or_rich(db):
    result = subprocess.run([sys.executable, "-c", PROBE, db], capture_output=True, text=True, env=clean_env(),
                            timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"engine": [], "loaded": [], "codes": [0, 0, 0, 0, 0]}


# Modules a short command has no use for, each costing its start-up a few million instructions
# (issue 12: `enqueue` and `status` load only what they need). SQLite only: psycopg itself loads
# most of them.
HEAVY = ("threading", "typing", "dataclasses", "inspect", "tempfile", "pathlib", "hashlib", "subprocess",
         "socket", "logging", "asyncio", "textual", "rich")

SHORT = """
import contextlib, io, json, sys
import queuectl_tui.cli as cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.run(["--db", sys.argv[1], *json.loads(sys.argv[2])], "queuectl", tui=False)
print(json.dumps({"code": code, "heavy": sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)}),
      file=sys.stderr)
"""


@pytest.mark.sqlite_only
def test_short_commands_load_none_of_the_heavy_modules(db):
    for argv in (["enqueue", '{"command": "true"}'], ["status"], ["status", "--json"]):
        result = subprocess.run([sys.executable, "-c", SHORT, db, json.dumps(argv), json.dumps(HEAVY)],
                                capture_output=True, text=True, env=clean_env(), timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stderr.strip().splitlines()[-1]) == {"code": 0, "heavy": []}, argv
