"""Messages that background threads post to the UI (post_message is thread-safe)."""

from __future__ import annotations

from textual.message import Message

from core.models import Job, WorkerInfo


class Snapshot(Message):
    """One refresh: figures for the whole queue and a bounded window of the visible table."""

    def __init__(self, now: float, counts: dict[str, int], per_minute: int, workers: list[WorkerInfo],
                 view: str, jobs: list[Job], total: int) -> None:
        super().__init__()
        self.now = now
        self.counts = counts
        self.per_minute = per_minute
        self.workers = workers
        self.view = view
        self.jobs = jobs
        self.total = total  # jobs matching the view (and filter); `jobs` is the first window of them


class RefreshFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
