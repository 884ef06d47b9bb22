"""Wake-up signals between processes on one machine, so idle workers need not poll fast.

Every listening process binds a Unix datagram socket in a folder named after the database; a
notifier sends one small datagram to each socket there. Lost or refused datagrams only cost a poll
interval, because workers poll anyway: the signal is an optimisation, never the source of truth.
"""

from __future__ import annotations

import abc
import errno
import os

# socket, select, hashlib and tempfile are imported where they are used: a CLI command that only
# reads (`queuectl status`) never sends or waits for a wake-up, and must start fast.


def wake_dir(db_path: str) -> str:
    import hashlib
    import tempfile

    digest = hashlib.sha256(os.path.realpath(db_path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"queuectl-{os.getuid()}", digest)


class Listener(abc.ABC):
    """Where a process waits for wake-up events; each backend has its own."""

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> list[str]:
        """Block until events arrive or the timeout passes; return them (maybe none)."""

    @abc.abstractmethod
    def close(self) -> None: ...


class SocketNotifier:
    """Sends wake-ups to the listeners of one database; `db_path` is resolved on first use."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._folder: str | None = None
        self._sock = None

    @property
    def folder(self) -> str:
        if self._folder is None:
            self._folder = wake_dir(self.db_path)
        return self._folder

    def notify(self, event: str) -> None:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        if not names:
            return
        if self._sock is None:
            import socket

            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        data = event.encode()
        for name in names:
            path = os.path.join(self.folder, name)
            try:
                self._sock.sendto(data, path)
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
                    _unlink(path)  # its listener is gone
                # EAGAIN: that listener's buffer is full, it is awake anyway

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class SocketListener(Listener):
    def __init__(self, folder: str) -> None:
        import socket

        os.makedirs(folder, mode=0o700, exist_ok=True)
        self.path = os.path.join(folder, f"{os.getpid()}-{os.urandom(4).hex()}.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.setblocking(False)

    def wait(self, timeout: float | None) -> list[str]:
        """Block until at least one event arrives or the timeout passes; return the events."""
        import select

        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError):
            return []
        events: list[str] = []
        while ready:
            try:
                events.append(self._sock.recv(256).decode(errors="replace"))
            except BlockingIOError:
                break
            except OSError:
                break
        return events

    def close(self) -> None:
        self._sock.close()
        _unlink(self.path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
