"""Wake-ups on PostgreSQL: LISTEN on the queue's channel, on a connection of its own."""

from __future__ import annotations

import logging
import time

import psycopg

from .errors import StorageError
from .wake import Listener

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from .pg_store import PostgresStore

log = logging.getLogger("queuectl.postgres")


def _quote(name: str) -> str:
    return '"' + name + '"'  # the channel holds a schema name checked against SCHEMA_NAME and ':'


class PgListener(Listener):
    """LISTEN on a connection of its own. When that connection breaks, wait() reconnects (at most
    once a second) and then reports a 'work' event: notifications sent meanwhile are lost, so
    everybody should look again."""

    RECONNECT_EVERY = 1.0

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._conn: psycopg.Connection | None = None
        self._closed = False
        self._last_try = 0.0
        self._listen()

    def _listen(self) -> bool:
        self._last_try = time.monotonic()
        try:
            conn = self._store.connect()
        except StorageError as exc:
            log.debug("listener: %s", exc)
            return False
        try:
            conn.execute(f"LISTEN {_quote(self._store.channel)}")
        except psycopg.Error as exc:
            log.debug("listener: %s", self._store.message(exc))
            conn.close()
            return False
        self._conn = conn
        return True

    def wait(self, timeout: float | None) -> list[str]:
        if self._closed:
            return []
        if self._conn is None:
            pause = max(0.0, self._last_try + self.RECONNECT_EVERY - time.monotonic())
            if timeout is not None and pause > timeout:
                time.sleep(timeout)
                return []
            time.sleep(pause)
            if self._listen():
                log.info("wake-ups from %s are back", self._store.location)
                return ["work"]
            return []
        try:
            events = [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)]
            if events:  # take whatever else has arrived, without waiting
                events += [n.payload for n in self._conn.notifies(timeout=0)]
            return events
        except psycopg.Error as exc:
            if not self._closed:
                log.warning("lost the wake-up connection to %s: %s", self._store.location, self._store.message(exc))
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
            return []

    def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
