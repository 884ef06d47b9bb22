"""The embedded worker pool(s) and what the keys do to them, in one object the app creates and hands
to its screens. Screens ask it (line, worker_ids, running, paused) and tell it (resize, toggle_pause,
quit); when the pool's size or state changes it posts PoolChanged to every screen, which redraws
itself. It knows no screen and no app module: only a Textual App to run threads and notify on."""

from __future__ import annotations

from functools import partial

from textual.app import App

from core.errors import QueueError
from core.queue import Queue
from core.pool import Pool

from .messages import PoolChanged


class PoolControl:
    def __init__(self, app: App, queue: Queue, workers: int | None = None) -> None:
        self.app = app
        self.queue = queue
        self.initial_workers = workers
        self.pool: Pool | None = None
        self.old_pools: list[Pool] = []  # stopped from outside; their running jobs may still finish
        self.starting = False  # a new pool is being started (after a stop from outside)
        self.stopped = False  # the pool was stopped by `queuectl worker stop`, not by this app
        self.quitting = 0  # 1: pool stopping, running jobs finish; 2: running jobs killed

    # what the screens ask --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """The pool is there and takes the keys + - p."""
        return self.pool is not None and not self.quitting and not self.stopped

    @property
    def paused(self) -> bool:
        return self.pool is not None and self.pool.paused

    @property
    def size(self) -> int:
        return self.pool.size if self.pool is not None else 0

    @property
    def restartable(self) -> bool:
        """Stopped from outside: + starts a new pool."""
        return self.pool is not None and self.stopped and not self.quitting

    def line(self) -> str:
        pool = self.pool
        if pool is None:
            return "pool: starting"
        running = sum(1 for _, job in pool.snapshot() if job is not None)
        if self.stopped and not self.quitting:
            return f"pool stopped ({running} busy)" if running else "pool stopped, + starts one"
        size = pool.size
        state = " paused" if pool.paused else ""
        if self.quitting:
            state = " stopping" if self.quitting == 1 else " killing"
        return f"pool {size} ({running} busy){state}"

    def worker_ids(self) -> set[str]:
        return {worker_id for pool in self.all_pools() for worker_id, _ in pool.snapshot()}

    def all_pools(self) -> list[Pool]:
        pools = list(self.old_pools)
        if self.pool is not None and self.pool not in pools:
            pools.append(self.pool)
        return pools

    # starting and watching -------------------------------------------------------------------------
    def start(self, size: int | None = None) -> None:
        self.app.run_worker(partial(self._start, size), name="start_pool", thread=True, exit_on_error=False)

    def _start(self, size: int | None) -> None:  # a thread
        try:
            if size is None:
                size = self.queue.settings().worker_count if self.initial_workers is None else self.initial_workers
            pool = Pool(self.queue, size)
            pool.start()
        except QueueError as exc:
            self.app.call_from_thread(self._failed, f"Worker pool not started: {exc}")
            return
        self.app.call_from_thread(self._started, pool)

    def _failed(self, message: str) -> None:
        self.starting = False
        self.app.notify(message, severity="error", markup=False)

    def _started(self, pool: Pool) -> None:
        self.starting = False
        if self.quitting:  # q was pressed while it started: stop it with the others
            pool.stop()
            self.old_pools.append(pool)
            return
        if self.stopped:
            self.app.notify(f"Started a new pool of {pool.target} worker(s)", markup=False)
        self.pool = pool
        self.stopped = False
        self.changed()

    def watch(self) -> None:
        """`queuectl worker stop` (another process) stops every live worker of this database, this
        app's pool too. Say so, once, and let + start a new pool. A timer calls this."""
        pool = self.pool
        if pool is None or self.quitting or self.stopped or not pool.stopping:
            return
        self.stopped = True
        self.old_pools.append(pool)
        self.app.run_worker(pool.join, name="join_old_pool", group="old-pools", thread=True,
                            exit_on_error=False)  # its running jobs finish; then its own threads end
        running = sum(1 for _, job in pool.snapshot() if job is not None)
        if pool.errors:  # it stopped itself: the database file was deleted or replaced
            what, then = f"stopped: {pool.errors[-1]}", "Restart the app on the database you mean."
        else:
            what, then = "was stopped from outside (queuectl worker stop)", "Press + to start a new pool."
        self.app.notify(f"The embedded pool {what}" + (f"; {running} running job(s) finish" if running else "")
                        + f". {then}", title="Pool stopped", severity="warning", timeout=15, markup=False)
        self.changed()

    def changed(self) -> None:
        """The pool's size or state changed: the app's keys follow, and every screen is told."""
        self.app.refresh_bindings()
        for screen in self.app.screen_stack:
            screen.post_message(PoolChanged())

    # what the keys do ------------------------------------------------------------------------------
    def resize(self, delta: int) -> None:
        if self.pool is None or self.quitting:
            return
        if self.stopped:
            if delta > 0 and not self.starting:
                self.starting = True
                self.start(1)
            return
        self.pool.resize(self.pool.size + delta)
        self.app.notify(f"Pool size {self.pool.size}" + (" (paused)" if self.pool.paused else ""))
        self.changed()

    def toggle_pause(self) -> None:
        if self.pool is None or self.quitting or self.stopped:
            return
        self.pool.pause(not self.pool.paused)
        self.app.notify("Pool paused: running jobs finish, no new claims" if self.pool.paused else "Pool resumed")
        self.changed()

    def quit(self) -> None:
        """First q: claim nothing more, let running jobs finish, then the app exits. Second q: kill
        them (released as failed attempts, so they retry or go dead by the usual rule)."""
        pools = self.all_pools()
        if not pools:
            self.app.exit()
            return
        self.quitting += 1
        self.changed()  # the pool keys no longer apply
        if self.quitting == 1:
            running = sum(1 for pool in pools for _, job in pool.snapshot() if job is not None)
            for pool in pools:
                pool.stop()
            if running:
                self.app.notify(f"Waiting for {running} running job(s) to finish. Press q again to kill them.",
                                title="Quitting", timeout=30)
            self.app.run_worker(self._wait, name="wait_for_pool", thread=True, exit_on_error=False)
        elif self.quitting == 2:
            self.app.notify("Killing running jobs", title="Quitting", severity="warning")
            for pool in pools:
                pool.kill()

    def _wait(self) -> None:  # a thread
        for pool in self.all_pools():
            pool.join()
        self.app.call_from_thread(self.app.exit)

    def shutdown(self) -> None:
        """The app ends: normally the pool has already stopped (q); if the app ends another way,
        release the jobs."""
        for pool in self.all_pools():
            if not pool.join(timeout=0):
                pool.kill()
                pool.join(timeout=10)
