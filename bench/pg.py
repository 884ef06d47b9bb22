"""The PostgreSQL backend on the drain and latency workloads, and `status` on a large PostgreSQL
queue, each beside its references of the same run: the xargs floor and the SQLite figure.

The server is a throwaway one that this suite starts itself (tests/pg_server.py, as the tests do:
loopback only, a temporary data folder, run as the `postgres` user when we are root, `fsync = off`
with `synchronous_commit` on), and stops afterwards. Each measurement gets a schema of its own
(`?schema=...` in the URL). Without psycopg or server binaries the suite prints one skipped row.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import QUEUECTL, ROOT, SAME_RUN, TICK, Row, Scratch, median_wall, percentile, proc_stats, wall

import drain
import latency

STATUS_MIX = (("completed", 0.70), ("dead", 0.10), ("pending", 0.20))


def start_server():
    """(server, None) or (None, one-line reason)."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return None, f"psycopg is not installed: {exc}"
    sys.path.insert(0, str(ROOT))
    from tests.pg_server import PgServer, StartError

    try:
        return PgServer.start(), None
    except StartError as exc:
        return None, str(exc)


def server_cpu(server) -> float:
    """CPU seconds (user + system) of the postmaster and its children (the backends serving the
    pool, and the server's own background processes), those that exited included."""
    try:
        with open(server.data / "postmaster.pid") as f:
            postmaster = f.readline().strip()
    except OSError:
        return 0.0
    ticks = 0
    for pid, fields in proc_stats():
        if pid == postmaster:  # with the children it has reaped: backends of closed connections
            ticks += sum(int(x) for x in fields[11:15])
        elif fields[1] == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICK


def fill(url: str, n: int) -> None:
    """n jobs mixed as in the scale suite (70% completed, 10% dead, 20% pending; one run row per
    finished job), created through the engine (schema) and filled with one INSERT ... SELECT; then
    VACUUM ANALYZE, as autovacuum would have done on a queue that grew to this size."""
    import psycopg

    from core import Queue

    Queue.open(url).close()
    schema = url.rsplit("schema=", 1)[1]
    base = time.time() - 30 * 86400
    done, dead = STATUS_MIX[0][1], STATUS_MIX[0][1] + STATUS_MIX[1][1]
    state = f"CASE WHEN r < {done} THEN 'completed' WHEN r < {dead} THEN 'dead' ELSE 'pending' END"
    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f"""
            INSERT INTO "{schema}".jobs (id, command, state, attempts, max_retries, priority, run_at, created_at,
                                         updated_at, started_at, finished_at, exit_code, last_error, worker)
            SELECT 'job-' || lpad(i::text, 7, '0'), 'python3 process.py --item ' || i, s,
                   CASE s WHEN 'pending' THEN 0 WHEN 'dead' THEN 4 ELSE 1 END, 3, (i % 4 = 0)::int * 5,
                   {base} + i * 2.5, {base} + i * 2.5, {base} + i * 2.5,
                   CASE WHEN s <> 'pending' THEN {base} + i * 2.5 + 0.5 END,
                   CASE WHEN s <> 'pending' THEN {base} + i * 2.5 + 1.5 END,
                   CASE s WHEN 'completed' THEN 0 WHEN 'dead' THEN 1 END,
                   CASE WHEN s = 'dead' THEN 'exit code 1' END,
                   CASE WHEN s <> 'pending' THEN 'host:1234:abc:1' END
            FROM (SELECT i, {state} AS s FROM (SELECT i, random() AS r FROM generate_series(1, {n}) i) x) y""")
        conn.execute(f"""
            INSERT INTO "{schema}".runs (job_id, attempt, worker, started_at, finished_at, exit_code, error, stdout)
            SELECT id, attempts, worker, started_at, finished_at, exit_code, last_error, 'ok'::bytea
            FROM "{schema}".jobs WHERE state <> 'pending'""")
        conn.execute(f'VACUUM ANALYZE "{schema}".jobs')
        conn.execute(f'VACUUM ANALYZE "{schema}".runs')


def status_rows(server, quick: bool) -> list[Row]:
    from core import Queue

    n = 50_000 if quick else 200_000
    empty, big = server.url(schema="bench_status_empty"), server.url(schema="bench_status")
    wall([QUEUECTL, "--db", empty, "status"])  # creates the schema outside the timing
    t0 = time.perf_counter()
    fill(big, n)
    built = time.perf_counter() - t0
    base = median_wall([QUEUECTL, "--db", empty, "status"], 5) * 1000
    took = median_wall([QUEUECTL, "--db", big, "status"], 5) * 1000
    with Queue.open(big) as q:  # the database's share of it: counts() in this process
        q.counts()
        calls = []
        for _ in range(5):
            t = time.perf_counter()
            q.counts()
            calls.append((time.perf_counter() - t) * 1000)
    return [Row(f"PostgreSQL: status at {n:,} jobs (median of 5)", took, "ms", f"empty db {base:.0f} ms",
                took / base, "< 200 ms", took < 200,
                f"counts() alone {statistics.median(calls):.1f} ms (GROUP BY state); filled in {built:.0f} s")]


def run(quick: bool) -> list[Row]:
    server, reason = start_server()
    if server is None:
        return [Row("PostgreSQL: drain, latency, status", None, "", note=f"skipped: {reason}")]
    try:
        return measure(server, quick)
    finally:
        server.stop()


def measure(server, quick: bool) -> list[Row]:
    rows: list[Row] = []
    # drain: the floor and the SQLite figure from the drain suite of this run, or measured here
    n = drain.size(quick)
    xargs = (SAME_RUN.get(("xargs", n)) or drain.xargs_floor(n)).rate
    sqlite = (SAME_RUN.get(("drain", n)) or drain.queuectl_drain(n)).rate
    cpu_before = server_cpu(server)
    ours = drain.queuectl_drain(n, server.url(schema="bench_drain")).rate
    per_job = (server_cpu(server) - cpu_before) / n * 1e6  # seeding and checking included: a bit high
    name = f"PostgreSQL: drain {n} `true`, worker start --count 4 --burst"
    rows += [
        Row(name, ours, "jobs/s", f"xargs {xargs:,.0f} jobs/s", ours / xargs, "(ratio only)", None,
            f"the server's processes used {per_job:,.0f} µs of CPU per job"),
        Row(name, ours, "jobs/s", f"SQLite {sqlite:,.0f} jobs/s", ours / sqlite, "(ratio only)"),
    ]
    # latency: the SQLite figures from the latency suite of this run, or measured here
    samples_n, idle_seconds = latency.sizes(quick)
    if ("latency", quick) in SAME_RUN:
        sq_median, sq_p95, sq_cpu = SAME_RUN[("latency", quick)]
    else:
        with Scratch() as tmp:
            found, sq_cpu, _, _, _ = latency.measure(str(tmp / "jobs.db"), samples_n, idle_seconds)
        sq_median, sq_p95 = statistics.median(found), percentile(found, 95)
    samples, cpu, used, _, server_used = latency.measure(server.url(schema="bench_latency"), samples_n,
                                                         idle_seconds, lambda: server_cpu(server))
    srv = server_used / idle_seconds * 100
    median, p95 = statistics.median(samples), percentile(samples, 95)
    rows += [
        Row(f"PostgreSQL: pickup latency, idle pool of 4 (median of {samples_n})", median, "ms",
            f"SQLite {sq_median:.1f} ms", median / sq_median, "< 25 ms", median < 25),
        Row(f"PostgreSQL: pickup latency, idle pool of 4 (p95 of {samples_n})", p95, "ms",
            f"SQLite {sq_p95:.1f} ms", p95 / sq_p95, "< 60 ms", p95 < 60),
        Row(f"PostgreSQL: idle pool of 4: CPU ({idle_seconds:.0f} s, % of one core)", cpu, "%",
            f"SQLite {sq_cpu:.2f} %", cpu / sq_cpu if sq_cpu else None, "< 2 %", cpu < 2,
            f"{used * 60 / idle_seconds:.2f} CPU-s per minute; the server's processes {srv:.2f} % more"),
    ]
    rows += status_rows(server, quick)
    return rows
