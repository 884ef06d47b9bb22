"""Which store a location names, and where the default database lives."""

from __future__ import annotations

import os

from .errors import StorageError
from .store import SQLiteStore, Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_location() -> str:
    """QUEUECTL_DB, else jobs.db in the user data directory."""
    env = os.environ.get("QUEUECTL_DB")
    if env:
        return env
    from platformdirs import user_data_dir

    return os.path.join(user_data_dir("queuectl", appauthor=False), "jobs.db")


def open_store(location: str, create: bool = True, make_folder: bool = False) -> Store:
    """create and make_folder: see SQLiteStore (a PostgreSQL schema is always created if missing)."""
    if location.startswith(POSTGRES_SCHEMES):
        try:
            from .pg_store import PostgresStore  # loaded only for PostgreSQL URLs
        except ImportError as exc:
            raise StorageError(f"the PostgreSQL backend needs psycopg: pip install 'queuectl-tui[postgres]' ({exc})") from None
        return PostgresStore(location)
    return SQLiteStore(location, create, make_folder)
