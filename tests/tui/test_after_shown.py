"""Jobs waiting for their `after` jobs: the Pending tab lists them after the ready ones and says
what each waits on; the detail view lists them all."""

from __future__ import annotations

import io

from rich.console import Console

from core import Queue
from queuectl_tui.screens.detail import DetailScreen

from .fixtures import demo_app, settle, table, until


async def test_pending_tab_says_what_a_job_waits_on(tmp_path):
    db = str(tmp_path / "q.db")
    app = demo_app(db)
    with Queue.open(db) as q:
        q.enqueue_many([{"id": "build", "command": "make"}, {"id": "ship", "command": "ship", "priority": 99,
                                                                  "after": ["build", "pg-dump"]}])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ids = list(table(app).jobs)
        assert ids[-1] == "ship" and "build" in ids  # ready ones first, whatever the priority
        row = table(app).get_row_at(len(ids) - 1)
        due = next(cell for cell in row if "after" in str(cell))
        assert str(due) == "after build +1"
        table(app).move_cursor(row=len(ids) - 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: app.screen.job is not None)
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.fields(app.screen.job))
        assert "after       build pg-dump  (waiting on build pg-dump)" in console.export_text()
