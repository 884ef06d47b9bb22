"""Output of processes that jobs leave behind, read and dropped after their job ended, within a bound.

A process that a job leaves behind may keep writing to the job's pipes after the job's shell exits:
what it writes then is read and dropped by one thread per process, so it never blocks on a full pipe.
Each such pipe holds a descriptor for as long as the process lives, so a worker holds at most
leftover_limit() of them: past that the oldest is closed, and the process behind it gets SIGPIPE
(EPIPE where it ignores the signal) at its next write, as on any pipe whose reader has gone.
"""

from __future__ import annotations

import os
import selectors
import threading


def leftover_limit() -> int:
    """An eighth of the descriptors this process may open, at most 256: jobs that start always find
    descriptors free, whatever earlier jobs left running."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 2048
    return max(4, min(256, soft // 8))


class LeftoverOutput:
    """The thread that reads and drops what left-behind processes write. Only that thread registers
    and closes the pipes it holds, so it never reads a descriptor number that was closed and given
    to a new job's pipe meanwhile."""

    def __init__(self) -> None:
        self.most = leftover_limit()
        self._lock = threading.Lock()
        self._pending: list[int] = []  # handed over, not registered yet
        self._held: dict[int, None] = {}  # registered, oldest first
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        threading.Thread(target=self._loop, name="queuectl-leftover-output", daemon=True).start()

    def add(self, fds: list[int]) -> None:
        with self._lock:
            self._pending.extend(fds)
        os.write(self._wake_w, b"x")

    def _loop(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    self._take_pending()
                    continue
                if key.fd not in self._held:  # closed above, in this same round
                    continue
                try:
                    data = os.read(key.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    self._close(key.fd)

    def _take_pending(self) -> None:
        with self._lock:
            fds, self._pending = self._pending, []
        for fd in fds:
            self._selector.register(fd, selectors.EVENT_READ)
            self._held[fd] = None
        while len(self._held) > self.most:
            self._close(next(iter(self._held)))

    def _close(self, fd: int) -> None:
        self._selector.unregister(fd)
        del self._held[fd]
        os.close(fd)


_leftover_lock = threading.Lock()
_leftover: "tuple[int, LeftoverOutput] | None" = None  # (pid, this process's reader)


def discard_later(fds: list[int]) -> None:
    """Read and drop whatever still arrives on these pipes; close each at its end of file, or when
    newer ones push it out (see leftover_limit)."""
    global _leftover
    with _leftover_lock:
        if _leftover is None or _leftover[0] != os.getpid():
            _leftover = (os.getpid(), LeftoverOutput())
        reader = _leftover[1]
    reader.add(fds)
