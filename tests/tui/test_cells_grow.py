"""A cell that grows in place widens its column: the table never cuts a value silently, and a
column narrows again when the terminal stops being WIDE."""

from __future__ import annotations

from core.clock import FixedClock
from core.queue import Queue
from queuectl_tui.widgets.job_table import ID_WIDTH, WIDE

from .fixtures import NOW, demo_app, finish, goto, settle, table

WORKER = "w-1:1:aa:1"


def bare_app(path: str):
    """The app on a queue of its own (no demo jobs widening the columns), on a fixed clock."""
    from queuectl_tui.app import QueueApp

    clock = FixedClock(NOW)
    queue = Queue(Queue.open(path).store, clock)
    app = QueueApp(queue, workers=0, clock=clock, refresh_interval=3600, shown_location="~/q.db")
    app.theme = "textual-dark"
    app.animation_level = "none"
    return app, queue, clock


def shown(app, row_key: str, column: str) -> str:
    """The cell as drawn on the screen, cut to its column's width as the eye sees it."""
    t = table(app)
    row = t.get_row_index(row_key)
    line = t.render_line(row + 1).text  # the header is line 0
    start = 0
    for key, col in t.columns.items():
        width = col.get_render_width(t)
        if key.value == column:
            return line[start:start + width].strip()
        start += width
    raise KeyError(column)


async def test_due_and_died_cells_that_grow_are_shown_whole(tmp_path):
    app, queue, clock = bare_app(str(tmp_path / "q.db"))
    queue.enqueue("false", id="flaky", max_retries=3)
    queue.enqueue("true", id="later")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert shown(app, "flaky", "due") == "now"
        # it fails and waits 1m38s for its retry: DUE grows from "now" in place, on the same row
        finish(queue, clock, "flaky", WORKER, 2, "failed", 1, "exit code 1", retry_in=98)
        await settle(pilot)
        await pilot.pause()
        assert shown(app, "flaky", "state") == "retry"
        assert shown(app, "flaky", "due") == "in 1m38s"
        # Dead tab: a job cancelled just now died "now"; five seconds on it died "5.0s ago"
        queue.cancel("later")
        await goto(pilot, "dead")
        assert shown(app, "later", "finished") == "now"
        clock.advance(5)
        await settle(pilot)
        await pilot.pause()
        assert shown(app, "later", "finished") == "5.0s ago"


async def test_ids_get_their_wide_cells_on_a_wide_terminal_and_narrow_again(tmp_path):
    long_id = "a-very-long-job-id-" + "x" * 45
    app = demo_app(str(tmp_path / "q.db"))
    app.queue.enqueue("echo long", id=long_id, priority=50)
    async with app.run_test(size=(WIDE - 1, 40)) as pilot:
        await settle(pilot)
        assert shown(app, long_id, "id") == long_id[:ID_WIDTH - 1] + "…"
        await pilot.resize_terminal(WIDE, 40)
        await settle(pilot)
        await pilot.pause()
        assert shown(app, long_id, "id") == long_id[:2 * ID_WIDTH - 1] + "…"
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        await pilot.pause()
        assert shown(app, long_id, "id") == long_id[:ID_WIDTH - 1] + "…"
        t = table(app)
        assert t.columns[next(k for k in t.columns if k.value == "id")].get_render_width(t) == ID_WIDTH + 2
