"""A PostgreSQL schema made by an older queuectl (version 1) is upgraded in place, its attempts kept."""

from __future__ import annotations

import uuid

from core import Queue
from core.pg_store import MIGRATIONS, SCHEMA_VERSION
from core.store import Outcome


def test_a_version_1_schema_gains_the_dropped_counts(pg_server):
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
        conn.execute(f'SET search_path = "{schema}"')  # the migrations name tables unqualified
        for statement in MIGRATIONS[1].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"INSERT INTO \"{schema}\".meta VALUES ('schema_version', '1')")
        conn.execute(f"INSERT INTO \"{schema}\".jobs (id, command, state, attempts, max_retries, run_at, created_at,"
                     " updated_at) VALUES ('old', 'exit 1', 'failed', 1, 3, 0, 0, 0)")
        conn.execute(f"INSERT INTO \"{schema}\".runs (job_id, attempt, exit_code, error, stdout)"
                     " VALUES ('old', 1, 1, 'exit code 1', 'x')")
    with Queue.open(pg_server.url(schema=schema)) as q:
        assert [(r.stdout, r.stdout_dropped) for r in q.job("old").runs] == [(b"x", 0)]
        job = q.store.claim("w", 1e12, 1e12 + 30)
        q.store.finish("old", "w", job.attempts, Outcome("dead", None, 1, "exit code 1", 1e12, 1e12 + 1, b"y", b"z",
                                                          7, 8))
        assert [(r.stdout_dropped, r.stderr_dropped) for r in q.job("old").runs] == [(0, 0), (7, 8)]
        assert [(r.stdout, r.stdout_unread) for r in q.job("old", tail=1).runs] == [(b"x", 0), (b"y", 0)]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        version = conn.execute(f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'").fetchone()[0]
    assert version == str(SCHEMA_VERSION)


def pg_schema(conn, schema: str) -> tuple[list, list]:
    columns = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = %s ORDER BY table_name, column_name", (schema,)).fetchall()
    indexes = conn.execute("SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes"
                           " WHERE schemaname = %s ORDER BY indexname", (f"{schema}.", schema)).fetchall()
    return columns, indexes


def test_a_fresh_schema_equals_one_migrated_from_version_1(pg_server):
    import psycopg

    old, new = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{old}"')
        conn.execute(f'SET search_path = "{old}"')
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for statement in MIGRATIONS[1].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    Queue.open(pg_server.url(schema=old)).close()
    Queue.open(pg_server.url(schema=new)).close()
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        assert pg_schema(conn, old) == pg_schema(conn, new)
        assert pg_schema(conn, new)[1]  # the comparison saw the indexes


def test_tables_of_the_same_name_elsewhere_are_not_used(pg_server):
    """Statements name bare tables and connections set search_path to the queue's schema: a `jobs`
    table in public, or a search_path the URL asks for, changes nothing."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.jobs (note TEXT)")
    url = pg_server.url(schema=schema, options="-c%20search_path%3Dpublic")
    with Queue.open(url) as q:
        q.enqueue("true", id="a")
        assert [j.id for j in q.jobs(limit=5)] == ["a"] and q.store.claim("w", 1e12, 1e12 + 30).id == "a"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.jobs").fetchone()[0] == 0
        assert conn.execute(f'SELECT id FROM "{schema}".jobs').fetchall() == [("a",)]
        conn.execute("DROP TABLE public.jobs")
