"""The job detail of a running job: its output grows as the job writes, the page follows the end
unless the user scrolled up, the final output stays once the attempt ends, and all of it is literal."""

from __future__ import annotations

import contextlib
import time

from textual.containers import VerticalScroll
from textual.widgets import Static

from core import Queue
from core.pool import Pool
from queuectl_tui.app import QueueApp
from queuectl_tui.screens.detail import DetailScreen

from .scenes import detail_loaded

SLOW_PRINTER = ("for i in $(seq 1 30); do echo line-$i; sleep 0.15; done; "
                r"printf '[bold]not bold[/] \033[31mred?\n'")


def stdout_text(app) -> str:
    return str(app.screen.query_one("#stdout-text", Static).render())


@contextlib.asynccontextmanager
async def printer_detail(tmp_path):
    """The app at 80x24 on the detail of a job that prints a line every 0.15 s, run by a pool of
    this process; yields (app, pilot, queue, the detail's scrolling body)."""
    queue = Queue.open(str(tmp_path / "q.db"))
    queue.enqueue(SLOW_PRINTER, id="printer")
    pool = Pool(queue, 1).start()
    app = QueueApp(queue, workers=0, refresh_interval=1.0)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(DetailScreen("printer", queue, refresh_interval=1.0))
            await detail_loaded(pilot)
            yield app, pilot, queue, app.screen.query_one("#detail-body", VerticalScroll)
    finally:
        pool.stop()
        pool.join(10)
        queue.close()


async def test_detail_of_a_running_job_grows_and_follows_the_end(tmp_path):
    async with printer_detail(tmp_path) as (app, pilot, queue, body):
        seen, followed, deadline = [], False, time.monotonic() + 20
        while queue.job("printer").state == "processing" and time.monotonic() < deadline:
            await pilot.pause(0.1)
            text = stdout_text(app)
            if not seen or text != seen[-1]:
                seen.append(text)
            followed = followed or (body.max_scroll_y > 0 and body.scroll_y >= body.max_scroll_y)
        growing = [t for t in seen if "line-" in t]
        assert len(growing) >= 3, f"the pane grew {len(growing)} times while the job ran"
        counts = [t.count("line-") for t in growing]
        assert counts == sorted(counts) and counts[0] < 30
        assert followed, "the page did not follow the end of the output"
        for _ in range(50):  # the final output replaces the live one, and stays
            await pilot.pause(0.1)
            if "red?" in stdout_text(app):
                break
        final = stdout_text(app)
        assert final.count("line-") == 30
        assert "[bold]not bold[/] \\e[31mred?" in final  # literal: markup and escapes shown, never run


async def test_detail_stays_put_once_scrolled_up(tmp_path):
    async with printer_detail(tmp_path) as (app, pilot, queue, body):
        for _ in range(100):  # until the output is taller than the page
            await pilot.pause(0.1)
            if body.max_scroll_y > 2:
                break
        await pilot.press("home")
        await pilot.pause(0.1)
        before = stdout_text(app)
        for _ in range(30):
            await pilot.pause(0.1)
            if stdout_text(app) != before:
                break
        assert stdout_text(app) != before, "the pane did not grow"
        await pilot.pause(0.2)
        assert body.scroll_y == 0, "the page moved although the user had scrolled up"
