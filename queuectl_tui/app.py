"""The full-screen app: opens the main screen on the queue and the embedded pool (PoolControl).
Screens get both when they are made and talk back only through messages: the app knows no screen's
insides, and no screen imports this module."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from core.clock import SYSTEM, Clock
from core.queue import Queue

from .pool_control import PoolControl
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
        self.pools = PoolControl(self, queue, workers)  # the embedded pool; the screens get it
        self.sub_title = db_label(shown_location or queue.location, db_source)

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.queue, self.pools, self.clock, self.refresh_interval, self.row_limit))
        self.pools.start()
        self.set_interval(0.5, self.pools.watch)
        self.listen_for_stop_signals()

    def listen_for_stop_signals(self) -> None:
        """SIGTERM and SIGINT (a `kill -INT`: ctrl+c in the app is a key) are a q: running jobs
        finish, then the app ends (a second one kills them), as for `worker start`. SIGHUP, the
        terminal gone, ends the app at once: its running jobs are killed and recorded (on_unmount),
        never left running unwatched. Left to their defaults, SIGTERM and SIGHUP ended the process
        with jobs stuck in processing and the terminal not restored; SIGINT killed the jobs."""
        loop = asyncio.get_running_loop()
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.pools.quit)
            loop.add_signal_handler(signal.SIGHUP, self.exit)
        except (RuntimeError, ValueError):  # not the main thread's loop (an app run by a test)
            pass

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The screen's actions that apply now, by what they do; then Theme, Quit and the like.
        Textual's own "Keys" panel is replaced by the screen's key list (`?`), which esc closes."""
        for title, help_text, action in palette_entries(screen):
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a, screen))
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command

    async def action_quit(self) -> None:
        """q (the main screen's key), ctrl+q and the palette's Quit: see PoolControl.quit."""
        self.pools.quit()

    def on_unmount(self) -> None:
        self.pools.shutdown()


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
