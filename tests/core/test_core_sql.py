"""The named statements of core/sql.py: both dialects have the same ones, each fully resolved."""

from __future__ import annotations

from core.sql import COMMON, POSTGRES, SQLITE


def test_both_dialects_define_the_same_query_names():
    assert set(SQLITE) == set(POSTGRES)
    assert set(COMMON) <= set(SQLITE)


def test_each_dialect_has_only_its_own_parameter_marks():
    for name, sql in POSTGRES.items():
        assert "?" not in sql and "{ids}" not in sql, name
    for name, sql in SQLITE.items():
        assert "%s" not in sql, name


def test_no_statement_names_a_schema():
    """PostgreSQL connections set search_path to the queue's schema: statements name bare tables."""
    for sql in [*SQLITE.values(), *POSTGRES.values()]:
        assert "{s}" not in sql and '".' not in sql


def sqlite_schema(path: str) -> list[tuple]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"
                            " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
    finally:
        conn.close()


def test_a_fresh_sqlite_database_has_the_schema_of_a_migrated_one(tmp_path):
    import sqlite3

    from core import Queue
    from core.store import MIGRATIONS, statements

    old = str(tmp_path / "old.db")
    conn = sqlite3.connect(old, isolation_level=None)  # as version 1 made it
    for statement in statements(MIGRATIONS[1]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    Queue.open(old).close()
    Queue.open(str(tmp_path / "new.db")).close()
    assert sqlite_schema(old) == sqlite_schema(str(tmp_path / "new.db"))
