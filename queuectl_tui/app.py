"""The full-screen app: embeds the queue and a worker pool; screens show and change them."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from core.clock import SYSTEM, Clock
from core.errors import QueueError
from core.queue import Queue
from core.worker import Pool

from .screens.main import MainScreen


class QueueApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "queuectl"

    def __init__(
        self,
        queue: Queue,
        workers: int | None = None,
        clock: Clock = SYSTEM,
        refresh_interval: float = 1.0,
        row_limit: int = 200,
    ) -> None:
        super().__init__()
        self.queue = queue
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.row_limit = row_limit
        self.initial_workers = workers
        self.pool: Pool | None = None
        self.quitting = 0  # 1: pool stopping, running jobs finish; 2: running jobs killed
        self.sub_title = queue.location

    def on_mount(self) -> None:
        self.push_screen(MainScreen())
        self.start_pool()

    # the embedded pool -----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False)
    def start_pool(self) -> None:
        try:
            size = self.queue.settings().worker_count if self.initial_workers is None else self.initial_workers
            pool = Pool(self.queue, size)
            pool.start()
        except QueueError as exc:
            self.call_from_thread(self.notify, f"Worker pool not started: {exc}", severity="error", markup=False)
            return
        self.pool = pool
        self.call_from_thread(self.refresh_bindings)

    def pool_line(self) -> str:
        pool = self.pool
        if pool is None:
            return "pool: starting"
        running = sum(1 for _, job in pool.snapshot() if job is not None)
        size = pool.size
        state = " paused" if pool.paused else ""
        if self.quitting:
            state = " stopping" if self.quitting == 1 else " killing"
        return f"pool {size} ({running} busy){state}"

    def pool_worker_ids(self) -> set[str]:
        return {worker_id for worker_id, _ in self.pool.snapshot()} if self.pool else set()

    def resize_pool(self, delta: int) -> None:
        if self.pool is None or self.quitting:
            return
        self.pool.resize(self.pool.size + delta)
        self.notify(f"Pool size {self.pool.size}" + (" (paused)" if self.pool.paused else ""))
        self.refresh_bindings()

    def toggle_pause(self) -> None:
        if self.pool is None or self.quitting:
            return
        self.pool.pause(not self.pool.paused)
        self.notify("Pool paused: running jobs finish, no new claims" if self.pool.paused else "Pool resumed")
        self.refresh_bindings()

    def graceful_quit(self) -> None:
        """First q: claim nothing more, let running jobs finish. Second q: kill them (released as
        failed attempts, so they retry or go dead by the usual rule)."""
        pool = self.pool
        if pool is None:
            self.exit()
            return
        self.quitting += 1
        self.screen.refresh_bindings()  # the pool keys no longer apply
        if self.quitting == 1:
            running = sum(1 for _, job in pool.snapshot() if job is not None)
            pool.stop()
            if running:
                self.notify(f"Waiting for {running} running job(s) to finish. Press q again to kill them.",
                            title="Quitting", timeout=30)
            self.wait_for_pool()
        elif self.quitting == 2:
            self.notify("Killing running jobs", title="Quitting", severity="warning")
            pool.kill()

    @work(thread=True, exit_on_error=False)
    def wait_for_pool(self) -> None:
        assert self.pool is not None
        self.pool.join()
        self.call_from_thread(self.exit)

    # database actions from the screens -------------------------------------------------------------
    @work(thread=True, exit_on_error=False)
    def run_db(self, action: Callable[[Queue], Any], success: str, count: bool = False,
               then: Callable[[], Any] | None = None) -> None:
        """Run a queue operation off the UI thread; report the result as a notification."""
        try:
            result = action(self.queue)
        except QueueError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        message = f"{success}: {len(result)} job(s)" if count else success
        if result == "requested":
            message += " (killing its process group)"
        self.call_from_thread(self.notify, message, markup=False)
        if then is not None:
            self.call_from_thread(then)
        if isinstance(self.screen, MainScreen):
            self.call_from_thread(self.screen.refresh_data)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key's action in the command palette, when it applies."""
        yield from super().get_system_commands(screen)
        for binding in screen.BINDINGS:
            if not binding.id or binding.id == "quit":  # the app's own Quit entry is kept
                continue
            if screen.check_action(binding.action, ()) is True:
                yield SystemCommand(binding.description + f" ({binding.key_display or binding.key})",
                                    f"the {binding.key_display or binding.key} key",
                                    lambda a=binding.action: self.run_action(a, screen))

    async def action_quit(self) -> None:
        self.graceful_quit()

    def on_unmount(self) -> None:
        # Normally the pool has already stopped (q); if the app ends another way, release the jobs.
        if self.pool is not None and not self.pool.join(timeout=0):
            self.pool.kill()
            self.pool.join(timeout=10)


def run_app(db: str | None, workers: int | None) -> int:
    # Worker log lines would draw over the screen; the tables already show what they say.
    logging.getLogger("queuectl").addHandler(logging.NullHandler())
    logging.getLogger("queuectl").propagate = False
    with Queue.open(db) as queue:
        QueueApp(queue, workers).run()
    return 0
