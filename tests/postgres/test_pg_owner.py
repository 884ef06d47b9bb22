"""A queue's schema, and everything in it, must be the connecting role's (or a role's it is a member
of, or a superuser's): another role that made the schema first, or put a trigger on its tables,
could read every command and env enqueued, add jobs our workers run, or run SQL with our privileges."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.conftest import BIN, clean_env

TAG = uuid.uuid4().hex[:8]
OWNER, OTHER, TEAM = f"qown_{TAG}", f"qoth_{TAG}", f"qteam_{TAG}"


@pytest.fixture(scope="module")
def roles(pg_server):
    """Three roles on the session's server (trust login): the queue's user, another user, and a
    group role the queue's user is a member of; each may create schemas in the database."""
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        for role in (OWNER, OTHER, TEAM):
            admin.execute(f"CREATE ROLE {role} LOGIN")
            admin.execute(f"GRANT CREATE ON DATABASE postgres TO {role}")
        admin.execute(f"GRANT {TEAM} TO {OWNER}")
    yield pg_server


def url(server, schema: str, user: str = OWNER) -> str:
    return server.url(schema=schema).replace("postgres@", f"{user}@", 1)


def sql(server, *statements: str) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)


def queuectl(db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "queuectl"), "--db", db, *args], capture_output=True, text=True,
                          timeout=60, env=clean_env())


def tables_in(server, schema: str) -> list[str]:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as admin:
        return [r[0] for r in admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]


def test_a_schema_another_role_made_first_is_refused_and_left_alone(roles):
    schema = f"s_{uuid.uuid4().hex[:8]}"
    sql(roles, f"SET ROLE {OTHER}", f"CREATE SCHEMA {schema}", f"GRANT ALL ON SCHEMA {schema} TO {OWNER}")
    for args in (("status",), ("enqueue", '{"command": "deploy --token=SECRET"}')):
        result = queuectl(url(roles, schema), *args)
        assert result.returncode == 1, result
        assert result.stderr.count("\n") == 1 and f"schema {schema} belongs to role {OTHER}: refused" in result.stderr
    assert tables_in(roles, schema) == []  # nothing was created in it, nothing enqueued


def test_a_trigger_of_another_role_on_the_queue_is_refused(roles):
    schema = f"s_{uuid.uuid4().hex[:8]}"
    assert queuectl(url(roles, schema), "enqueue", '{"command": "true"}').returncode == 0
    sql(roles, f"CREATE FUNCTION public.steal_{TAG}_{schema}() RETURNS trigger LANGUAGE plpgsql"
               " AS $$ BEGIN RETURN NULL; END $$",
        f"ALTER FUNCTION public.steal_{TAG}_{schema}() OWNER TO {OTHER}",
        f"CREATE TRIGGER zz_steal AFTER INSERT ON {schema}.jobs FOR EACH STATEMENT"
        f" EXECUTE FUNCTION public.steal_{TAG}_{schema}()")
    result = queuectl(url(roles, schema), "enqueue", '{"command": "deploy --token=SECRET"}')
    assert result.returncode == 1 and f"trigger zz_steal belongs to role {OTHER}: refused" in result.stderr, result


@pytest.mark.parametrize("maker", [TEAM, "postgres"])
def test_a_schema_of_a_group_role_or_a_superuser_is_used(roles, maker):
    """A role the queue's user is a member of, or a superuser, may own the schema: that is how a team
    shares one queue, or how a DBA makes the schema beforehand."""
    schema = f"s_{uuid.uuid4().hex[:8]}"
    sql(roles, f"SET ROLE {maker}", f"CREATE SCHEMA {schema}", f"GRANT ALL ON SCHEMA {schema} TO {OWNER}")
    result = queuectl(url(roles, schema), "enqueue", '{"command": "true", "id": "shared"}')
    assert (result.returncode, result.stdout) == (0, "shared\n"), result
    assert queuectl(url(roles, schema), "status").returncode == 0
    assert "jobs" in tables_in(roles, schema)
