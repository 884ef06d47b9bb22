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
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        table(app).move_cursor(row=ids.index("build"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.job is not None
                    and app.screen.job.id == "build")
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.fields(app.screen.job))
        assert "needed by   ship" in console.export_text()


async def test_the_enqueue_form_takes_after_and_a_unique_key(tmp_path):
    from queuectl_tui.screens.enqueue import EnqueueScreen

    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EnqueueScreen))
        form = app.screen
        form.query_one("#command").value = "deploy"
        form.query_one("#id").value = "ship-it"
        form.query_one("#after").value = "pg-dump nope"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "after: no job 'nope'" in str(form.query_one("#after-error").render()))
        assert isinstance(app.screen, EnqueueScreen) and app.queue.count() == 13  # nothing written
        form.query_one("#after").value = "pg-dump disk-report"
        form.query_one("#unique_key").value = "deploy"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, EnqueueScreen))
        job = app.queue.job("ship-it")
        assert (job.after, job.unique_key, job.state) == (["pg-dump", "disk-report"], "deploy", "pending")
        await pilot.press("e")  # the same key again: the form closes, nothing is added, and it says so
        await until(pilot, lambda: isinstance(app.screen, EnqueueScreen))
        app.screen.query_one("#command").value = "deploy again"
        app.screen.query_one("#unique_key").value = "deploy"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, EnqueueScreen))
        assert app.queue.count() == 14
        assert any("holds that unique key" in str(n.message) for n in app._notifications)
