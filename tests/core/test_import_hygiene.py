"""The engine and the headless CLI never import Textual or Rich (nor the engine argparse)."""

from __future__ import annotations

import json
import subprocess
import sys

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
