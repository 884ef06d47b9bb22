"""The full-screen app: embeds the queue and a worker pool; screens show and change them."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from core.clock import SYSTEM, Clock
from core.errors import QueueError
from core.pool import Pool
from core.queue import Queue

from .render import db_label
from .screens.help import palette_entries
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
        db_source: str = "--db",
        shown_location: str | None = None,
    ) -> None:
        """db_source says where the database came from ("--db", "QUEUECTL_DB" or "default"), so
        the header tells a default database from a chosen one; shown_location replaces the path
        shown (the snapshot tests' temp paths differ on every run)."""
        super().__init__()
        self.queue = queue
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.row_limit = row_limit
        self.initial_workers = workers
        self.pool: Pool | None = None
        self.old_pools: list[Pool] = []  # stopped from outside; their running jobs may still finish
        self.pool_starting = False  # a new pool is being started (after a stop from outside)
        self.pool_stopped = False  # the pool was stopped by `queuectl worker stop`, not by this app
        self.quitting = 0  # 1: pool stopping, running jobs finish; 2: running jobs killed
        self.sub_title = db_label(shown_location or queue.location, db_source)

    def on_mount(self) -> None:
        self.push_screen(MainScreen())
        self.start_pool()
        self.set_interval(0.5, self.watch_pool)

    # the embedded pool -----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False)
    def start_pool(self, size: int | None = None) -> None:
        try:
            if size is None:
                size = self.queue.settings().worker_count if self.initial_workers is None else self.initial_workers
            pool = Pool(self.queue, size)
            pool.start()
        except QueueError as exc:
            self.call_from_thread(self.pool_failed, f"Worker pool not started: {exc}")
            return
        self.call_from_thread(self.pool_started, pool)

    def pool_failed(self, message: str) -> None:
        self.pool_starting = False
        self.notify(message, severity="error", markup=False)

    def pool_started(self, pool: Pool) -> None:
        self.pool_starting = False
        if self.quitting:  # q was pressed while it started: stop it with the others
            pool.stop()
            self.old_pools.append(pool)
            return
        if self.pool_stopped:
            self.notify(f"Started a new pool of {pool.target} worker(s)", markup=False)
        self.pool = pool
        self.pool_stopped = False
        self.pool_changed()

    def watch_pool(self) -> None:
        """`queuectl worker stop` (another process) stops every live worker of this database, this
        app's pool too. Say so, once, and let + start a new pool."""
        pool = self.pool
        if pool is None or self.quitting or self.pool_stopped or not pool.stopping:
            return
        self.pool_stopped = True
        self.old_pools.append(pool)
        self.join_old_pool(pool)
        running = sum(1 for _, job in pool.snapshot() if job is not None)
        if pool.errors:  # it stopped itself: the database file was deleted or replaced
            what, then = f"stopped: {pool.errors[-1]}", "Restart the app on the database you mean."
        else:
            what, then = "was stopped from outside (queuectl worker stop)", "Press + to start a new pool."
        self.notify(f"The embedded pool {what}" + (f"; {running} running job(s) finish" if running else "")
                    + f". {then}", title="Pool stopped", severity="warning", timeout=15, markup=False)
        self.pool_changed()

    @work(thread=True, exit_on_error=False, group="old-pools")
    def join_old_pool(self, pool: Pool) -> None:
        pool.join()  # its running jobs finish; then its own threads end

    def pool_changed(self) -> None:
        """The pool's size or state changed: the strip and the keys that apply follow."""
        self.refresh_bindings()
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.show_stats()
                screen.refresh_bindings()

    def pool_line(self) -> str:
        pool = self.pool
        if pool is None:
            return "pool: starting"
        running = sum(1 for _, job in pool.snapshot() if job is not None)
        if self.pool_stopped and not self.quitting:
            return f"pool stopped ({running} busy)" if running else "pool stopped, + starts one"
        size = pool.size
        state = " paused" if pool.paused else ""
        if self.quitting:
            state = " stopping" if self.quitting == 1 else " killing"
        return f"pool {size} ({running} busy){state}"

    def pool_worker_ids(self) -> set[str]:
        return {worker_id for pool in self.all_pools() for worker_id, _ in pool.snapshot()}

    def resize_pool(self, delta: int) -> None:
        if self.pool is None or self.quitting:
            return
        if self.pool_stopped:
            if delta > 0 and not self.pool_starting:
                self.pool_starting = True
                self.start_pool(1)
            return
        self.pool.resize(self.pool.size + delta)
        self.notify(f"Pool size {self.pool.size}" + (" (paused)" if self.pool.paused else ""))
        self.pool_changed()

    def toggle_pause(self) -> None:
        if self.pool is None or self.quitting or self.pool_stopped:
            return
        self.pool.pause(not self.pool.paused)
        self.notify("Pool paused: running jobs finish, no new claims" if self.pool.paused else "Pool resumed")
        self.pool_changed()

    def graceful_quit(self) -> None:
        """First q: claim nothing more, let running jobs finish. Second q: kill them (released as
        failed attempts, so they retry or go dead by the usual rule)."""
        pools = self.all_pools()
        if not pools:
            self.exit()
            return
        self.quitting += 1
        self.pool_changed()  # the pool keys no longer apply
        if self.quitting == 1:
            running = sum(1 for pool in pools for _, job in pool.snapshot() if job is not None)
            for pool in pools:
                pool.stop()
            if running:
                self.notify(f"Waiting for {running} running job(s) to finish. Press q again to kill them.",
                            title="Quitting", timeout=30)
            self.wait_for_pool()
        elif self.quitting == 2:
            self.notify("Killing running jobs", title="Quitting", severity="warning")
            for pool in pools:
                pool.kill()

    def all_pools(self) -> list[Pool]:
        pools = list(self.old_pools)
        if self.pool is not None and self.pool not in pools:
            pools.append(self.pool)
        return pools

    @work(thread=True, exit_on_error=False)
    def wait_for_pool(self) -> None:
        for pool in self.all_pools():
            pool.join()
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
        """The screen's actions that apply now, by what they do; then Theme, Quit and the like.
        Textual's own "Keys" panel is replaced by the screen's key list (`?`), which esc closes."""
        for title, help_text, action in palette_entries(screen):
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a, screen))
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command

    async def action_quit(self) -> None:
        self.graceful_quit()

    def on_unmount(self) -> None:
        # Normally the pool has already stopped (q); if the app ends another way, release the jobs.
        for pool in self.all_pools():
            if not pool.join(timeout=0):
                pool.kill()
                pool.join(timeout=10)


def db_source(db: str | None) -> str:
    """Where the app's database comes from, as the header says it."""
    return "--db" if db else "QUEUECTL_DB" if os.environ.get("QUEUECTL_DB") else "default"


def run_app(db: str | None, workers: int | None) -> int:
    # Worker log lines would draw over the screen; the tables already show what they say.
    logging.getLogger("queuectl").addHandler(logging.NullHandler())
    logging.getLogger("queuectl").propagate = False
    with Queue.open(db) as queue:
        QueueApp(queue, workers, db_source=db_source(db)).run()
    return 0
