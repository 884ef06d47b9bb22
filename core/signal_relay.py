"""Signals acted on in a thread of their own. A Python signal handler runs in the main thread
between two bytecodes: one that takes a lock (Pool.stop sets Events) can interrupt the main thread,
or itself at a second signal, while that lock is held, and wait for it for ever. Here the C-level
handler only writes the signal's number to a pipe (signal.set_wakeup_fd); a thread reads it and
calls on_signal, one signal at a time, with no lock held by anyone it interrupted."""

from __future__ import annotations

import os
import signal
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from typing import Callable, Iterable


def _noted(signum: int, frame: object) -> None:
    """Python's handler: nothing. A handler, not SIG_IGN, which the jobs would inherit."""


class SignalRelay:
    def __init__(self, signums: Iterable[int], on_signal: Callable[[int], None]) -> None:
        """Catch these signals now (call from the main thread); start() begins acting on them. What
        comes between the two waits in the pipe."""
        self.signums, self.on_signal = set(signums), on_signal
        self._read, write = os.pipe()
        os.set_blocking(write, False)  # a full pipe drops a byte rather than blocking the handler
        for signum in self.signums:
            signal.signal(signum, _noted)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)

    def start(self) -> None:
        """Separate from __init__: ProcessPool forks only while this process has one thread."""
        threading.Thread(target=self._relay, name="queuectl-signals", daemon=True).start()

    def _relay(self) -> None:
        while True:
            for signum in os.read(self._read, 64):
                if signum in self.signums:
                    self.on_signal(signum)
