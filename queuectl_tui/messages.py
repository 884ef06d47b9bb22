"""Messages that background threads post to the UI (post_message is thread-safe), and the data
they carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from core.models import Job, QueueInfo, WorkerInfo


@dataclass
class Snapshot:
    """One refresh: figures for the whole queue and a bounded window of the visible table."""

    now: float
    counts: dict[str, int]
    per_minute: int
    workers: list[WorkerInfo]
    view: str
    jobs: list[Job]
    total: int  # jobs matching the view (and filter); `jobs` is the first window of them
    queues: list[QueueInfo] = field(default_factory=list)  # read for the Queues tab, and the Pending one (QueueInfo.held)


class DbResult(Message):
    """What a screen's database work (DbWork.run_db) came to: `result`, or the `error` it raised.
    `tag` says which request it answers, so the screen knows what to refresh."""

    bubble = False  # for the screen that asked, not for the app

    def __init__(self, tag: str, result: Any = None, error: Exception | None = None) -> None:
        super().__init__()
        self.tag = tag
        self.result = result
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None


class PoolChanged(Message):
    """The embedded pool's size or state changed (PoolControl posts it to every screen)."""

    bubble = False
