"""Screens and the engine talk by messages: a key's database action says how it went, whatever
refreshes land meanwhile; the workers and jobs tables are updated by key, not rebuilt (issue 12, item 4)."""

from __future__ import annotations

from core.models import WorkerInfo

from .fixtures import NOW, demo_app, goto, settle, until

SIZE = (100, 30)


def said(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_retry_is_notified_after_refreshes(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        screen = app.screen
        job = screen.selected
        screen.action_retry()
        screen.refresh_data()  # a refresh between the action and its answer
        await until(pilot, lambda: f"Retrying {job.id}" in said(app))
        assert "" not in said(app)
        await until(pilot, lambda: app.queue.job(job.id).state == "pending")


async def test_a_retry_that_leaves_the_job_dead_says_why_in_the_list_and_in_the_detail(tmp_path):
    """A job after a dead one is dead at once; `r` alone cannot bring it back: an error says why
    (it said "Retrying" and the job stayed dead)."""
    app = demo_app(str(tmp_path / "q.db"))
    app.queue.enqueue("restore --latest", id="restore", after=["nightly-backup"])
    why = "job 'restore' stays dead: dependency nightly-backup is dead"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        screen = app.screen
        table = screen.active_table
        table.move_cursor(row=table.get_row_index("restore"))
        await pilot.press("r")
        await until(pilot, lambda: why in said(app))
        assert not any(text.startswith("Retrying") for text in said(app))
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "job", None) is not None)
        await pilot.press("r")
        await until(pilot, lambda: said(app).count(why) == 2)
        assert app.queue.job("restore").state == "dead"
        assert not any(text.startswith("Retrying") for text in said(app))


async def test_retry_all_that_brings_back_no_job_says_why(tmp_path):
    """Every dead job waits on a dead dependency or a held key: it said "Retrying every dead job: 0
    job(s)" and the jobs stayed."""
    from core import Queue

    db = str(tmp_path / "q.db")
    app = demo_app(db)
    with Queue.open(db) as q:
        q.retry_dead(["nightly-backup", "sync-api", "hostile"])  # the demo's dead jobs: back to pending
        q.enqueue("true", id="keyed", unique_key="k", delay=3600)
        q.cancel("keyed")
        q.enqueue("true", id="holder", unique_key="k", delay=3600)  # keeps keyed from coming back
        q.enqueue("true", id="after-keyed", after=["keyed"])  # dead at once, and stays while keyed is
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        dead = {j.id for j in app.queue.jobs("dead", limit=100)}
        assert dead == {"keyed", "after-keyed"}
        await goto(pilot, "dead")
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: any("no dead job came back" in text for text in said(app)))
        assert not any(text.startswith("Retrying every dead job") for text in said(app))


async def test_workers_table_is_updated_by_key_and_keeps_its_cursor(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "workers")
        table = app.screen.query_one("#workers-table")

        def rows() -> list[str]:
            return [row.key.value for row in table.ordered_rows]

        def at_cursor() -> str:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

        assert rows() == ["web-1:4242:ab12cd:1", "web-2:977:ef34ab:1"]
        table.move_cursor(row=1)
        kept = table.get_cell("web-2:977:ef34ab:1", "host")
        # An older worker comes first: it is added and the rows are put in order; the cursor stays.
        app.queue.store.register_worker(WorkerInfo("[b]old[/b]:1:x:1", "h", 1, None, NOW - 99999, NOW - 1))
        app.screen.refresh_data()
        await settle(pilot)
        assert rows() == ["[b]old[/b]:1:x:1", "web-1:4242:ab12cd:1", "web-2:977:ef34ab:1"]
        assert at_cursor() == "web-2:977:ef34ab:1"
        assert str(table.get_cell("[b]old[/b]:1:x:1", "id")) == "[b]old[/b]:1:x:1"  # literal text
        assert table.get_cell("web-2:977:ef34ab:1", "host") is kept  # unchanged cells are not replaced
        app.queue.store.remove_worker("web-1:4242:ab12cd:1")
        app.screen.refresh_data()
        await settle(pilot)
        assert rows() == ["[b]old[/b]:1:x:1", "web-2:977:ef34ab:1"]
        assert at_cursor() == "web-2:977:ef34ab:1"
        assert "2 live worker(s) on this database, 2 idle" in str(app.screen.query_one("#workers-window").render())


async def test_a_jobs_table_redraws_only_what_changed(tmp_path):
    """An unchanged job keeps its cells but those that tell the time; a changed job, or a new theme,
    has its cells made again."""
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        table = app.screen.query_one("#dead-table")
        died, command = table.get_cell("sync-api", "finished"), table.get_cell("sync-api", "command")
        error = table.get_cell("sync-api", "error")
        app.clock.advance(120)
        app.screen.refresh_data()
        await settle(pilot)
        assert table.get_cell("sync-api", "command") is command
        assert str(table.get_cell("sync-api", "finished")) != str(died)  # "... ago" moved on
        app.queue.store._run(lambda c: c.execute("UPDATE jobs SET command = 'fixed [b]now[/b]' WHERE id = 'sync-api'"))
        app.screen.refresh_data()
        await settle(pilot)
        assert str(table.get_cell("sync-api", "command")) == "fixed [b]now[/b]"
        assert table.get_cell("sync-api", "error") is error  # the rest of the row stays as drawn
        app.theme = "gruvbox"
        await until(pilot, lambda: app.theme_variables["error"] != str(error.style))  # the new colours
        app.screen.refresh_data()
        await settle(pilot)
        assert str(table.get_cell("sync-api", "error").style) == app.theme_variables["error"]
