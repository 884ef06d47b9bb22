"""The log of a run of database errors: the first, then a line each SAY_AGAIN seconds or on a new
error, and one when the database answers again. A server down for a minute is a few lines per
worker and heartbeat, not one every few seconds."""

from __future__ import annotations

import logging
import time

SAY_AGAIN = 30.0


class OutageLog:
    def __init__(self, log: logging.Logger, who: str, retry: float) -> None:
        self.log, self.who, self.retry = log, who, retry  # retry: the longest wait between tries
        self._run: tuple[float, float, str] | None = None  # since, last said, what: while it lasts

    def failed(self, exc: Exception, doing: str = "") -> None:
        now, what = time.monotonic(), str(exc)
        since, said, before = self._run or (now, -SAY_AGAIN, "")
        if what != before or now - said >= SAY_AGAIN:
            late = f" (failing for {now - since:.0f}s)" if now > since else ""
            self.log.warning("%s: %s%s%s; retrying every %.1fs at most", self.who, doing and f"cannot {doing}: ",
                             what, late, self.retry)
            said = now
        self._run = (since, said, what)

    def answered(self) -> None:
        if self._run is not None:
            self.log.warning("%s: the database answers again, after %.0fs", self.who, time.monotonic() - self._run[0])
            self._run = None
