#!/usr/bin/env bash
# The benchmark's own set-up (run by `make bench`): the Python peers and profilers into the project's
# virtual environment, and task-spooler and the PostgreSQL server from the distribution when we are
# root. A peer that cannot be installed is skipped by the benchmark with a one-line reason; this
# script never fails the run.
set -u
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -r bench/requirements.txt || echo "bench: could not install bench/requirements.txt" >&2
if ! command -v tsp >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq task-spooler) >/dev/null 2>&1 \
            || echo "bench: could not install task-spooler" >&2
    else
        echo "bench: task-spooler not installed (needs root and apt-get); it will be skipped" >&2
    fi
fi
# The pg suite starts its own PostgreSQL server, as the tests do: the same installer (never fails).
sh scripts/ensure_postgres.sh
exit 0
