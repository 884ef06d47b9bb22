"""The app driven with Pilot, asserting on the database and on what the screen holds."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import Input, Static

from core import Queue
from queuectl_tui.app import QueueApp
from queuectl_tui.screens.confirm import ConfirmScreen
from queuectl_tui.screens.detail import DetailScreen
from queuectl_tui.screens.enqueue import EnqueueScreen
from queuectl_tui.screens.help import HelpScreen
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.settings import SettingsScreen

from .fixtures import HOSTILE, demo_app, goto, settle, table, until
from .scenes import detail_loaded

SIZE = (100, 30)


async def test_tables_show_each_state(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert list(table(app).jobs) == ["pg-dump", "disk-report", "deploy-site", "weekly-digest"]
        await goto(pilot, "processing")
        assert list(table(app).jobs) == ["train-model"]
        await goto(pilot, "dead")
        assert list(table(app).jobs) == ["nightly-backup", "hostile", "sync-api"]
        await goto(pilot, "completed")
        assert len(table(app).jobs) == 5
        await goto(pilot, "workers")
        assert app.screen.query_one("#workers-table").row_count == 2


async def test_enqueue_form_validates_then_inserts(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, EnqueueScreen)
        await pilot.press(*"echo hi", "tab", *"bad id!", "tab", "minus", "1")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EnqueueScreen), "invalid input must keep the form open"
        errors = {name: str(app.screen.query_one(f"#{name}-error").render()) for name in ("id", "max_retries")}
        assert "id must match" in errors["id"]
        assert "max_retries must be >= 0" in errors["max_retries"]
        assert app.queue.count() == 13
        app.screen.query_one("#id", Input).value = "my-job"
        app.screen.query_one("#max_retries", Input).value = "2"
        app.screen.query_one("#priority", Input).value = "7"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        job = app.queue.job("my-job")
        assert (job.command, job.max_retries, job.priority, job.state) == ("echo hi", 2, 7, "pending")


async def test_enqueue_taken_id_is_shown_in_the_form(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e", *"true", "tab", *"pg-dump", "enter")
        await until(pilot, lambda: "already taken" in str(app.screen.query_one("#id-error").render()))
        assert app.queue.job("pg-dump").command == "pg_dump app > /backups/app.sql"


async def test_retry_one_dead_job(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")  # not dead: nothing happens
        assert app.queue.job("pg-dump").state == "pending"
        await goto(pilot, "dead")
        assert table(app).selected.id == "nightly-backup"
        await pilot.press("r")
        await until(pilot, lambda: app.queue.job("nightly-backup").state == "pending")
        assert app.queue.job("nightly-backup").attempts == 0
        assert app.queue.job("sync-api").state == "dead"


async def test_retry_all_asks_first(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.queue.counts()["dead"] == 3
        await pilot.press("R", "y")
        await until(pilot, lambda: app.queue.counts()["dead"] == 0)
        assert app.queue.counts()["pending"] == 6


async def test_cancel_pending_job_with_confirmation(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: app.queue.job("disk-report").state == "dead")
        assert app.queue.job("disk-report").last_error == "cancelled"


async def test_settings_are_validated_and_saved(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        assert isinstance(app.screen, SettingsScreen)
        await until(pilot, lambda: app.screen.query_one("#set-max-retries", Input).value == "3")
        app.screen.query_one("#set-max-retries", Input).value = "7"
        app.screen.query_one("#set-poll-interval", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert "poll-interval must be a number >= 0.05" in str(app.screen.query_one("#poll-interval-error").render())
        assert app.queue.settings().max_retries == 3
        app.screen.query_one("#set-poll-interval", Input).value = "0.25"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        settings = Queue.open(app.queue.location).settings()
        assert (settings.max_retries, settings.poll_interval) == (7, 0.25)


async def test_filter_by_text(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"digest")
        await settle(pilot)
        assert list(table(app).jobs) == ["weekly-digest"]
        await pilot.press("enter")
        await goto(pilot, "dead")
        assert list(table(app).jobs) == []
        await pilot.press("escape")
        await settle(pilot)
        assert len(table(app).jobs) == 3


async def test_detail_shows_history_and_literal_output(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        row = [cell.plain for cell in table(app).get_row("hostile")]
        assert "echo '[bold]not bold[/] [link=x]no link[/link] [/]' \\e[31m; printf '\\033[2J'" in row
        await pilot.press("down", "enter")
        assert isinstance(app.screen, DetailScreen)
        await detail_loaded(pilot)
        fields = app.screen.query_one("#fields", Static)
        stdout = str(app.screen.query_one("#stdout-text", Static).render())
        stderr = str(app.screen.query_one("#stderr-text", Static).render())
        assert "[bold]not bold[/] [link=x]no link[/link] [/]" in stdout
        assert "\\e[31mred?\\e[0m" in stdout and "\x1b" not in stdout
        assert stderr.strip() == "\\e[2J\\a"
        assert app.screen.job.command == HOSTILE
        assert fields is not None
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_pool_grows_shrinks_pauses_and_runs_jobs(tmp_path):
    queue = Queue.open(str(tmp_path / "q.db"))
    queue.set_setting("poll-interval", 0.1)
    app = QueueApp(queue, workers=0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.pools.pool is not None)
        await pilot.press("plus", "plus")
        assert app.pools.pool.size == 2
        await until(pilot, lambda: len(queue.workers()) == 2)
        await pilot.press("minus")
        await until(pilot, lambda: len(queue.workers()) == 1)
        await pilot.press("p")
        assert app.pools.pool.paused
        job = queue.enqueue("echo ran")
        await pilot.pause(0.5)
        assert queue.job(job.id).state == "pending"
        await pilot.press("p")
        await until(pilot, lambda: queue.job(job.id).state == "completed")
        await pilot.press("q")
    assert queue.workers() == []


async def test_quit_waits_for_running_jobs(tmp_path):
    queue = Queue.open(str(tmp_path / "q.db"))
    job = queue.enqueue("sleep 1; echo done")
    app = QueueApp(queue, workers=1)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue.job(job.id).state == "processing")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=15)
    assert queue.job(job.id).state == "completed"
    assert queue.counts()["processing"] == 0


async def test_second_quit_kills_and_releases_running_jobs(tmp_path):
    queue = Queue.open(str(tmp_path / "q.db"))
    job = queue.enqueue("sleep 60", max_retries=1)
    app = QueueApp(queue, workers=1)
    started = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue.job(job.id).state == "processing")
        await pilot.press("q")
        await pilot.pause(0.2)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, timeout=15)
    assert time.monotonic() - started < 30
    killed = queue.job(job.id)
    assert killed.state == "failed" and killed.last_error == "killed: worker shut down"
    assert queue.counts()["processing"] == 0


async def test_database_errors_are_notified_not_fatal(tmp_path):
    path = tmp_path / "q.db"
    app = demo_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.queue.store._close_idle()  # drop pooled connections (close() would end the store), then make the file unusable
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"q.db{suffix}").unlink(missing_ok=True)
        with open(path, "r+b") as file:  # in place: a file replaced under the store is another error, tested apart
            file.write(b"this is not a database" * 100)
            file.truncate()
        app.screen.refresh_data()
        await until(pilot, lambda: any("not a queuectl database" in str(n.message) for n in app._notifications))
        assert app.is_running
        await pilot.press("1", "2", "3")
        assert app.is_running


async def test_command_palette_offers_the_actions_that_apply(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        # A pending job is selected: it can be cancelled, not retried. Entries say what they do.
        assert "Cancel the selected job" in commands and "Retry the selected dead job" not in commands
        assert commands["Cancel the selected job"].help == "key x: Cancel the selected job (asks first)"
        assert {"Go to the Pending tab", "Go to the Dead tab", "Go to the Workers tab", "Next tab",
                "Show every key", "Edit the settings", "Retry all dead jobs"} <= set(commands)
        assert "Keys" not in commands  # Textual's own keys panel, which esc did not close, is replaced
        assert not [c for c in commands.values() if c.help.startswith("the ") or c.title.endswith(")")]
        await goto(pilot, "dead")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Enqueue a new job", "Retry the selected dead job", "Retry all dead jobs",
                "Filter the jobs by id, command text or queue"} <= set(commands)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Retry the selected")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.queue.job("nightly-backup").state == "pending")


async def test_palette_goes_to_a_tab_and_shows_the_keys(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to the Dead tab")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.active_tab == "dead")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Show every key")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_cursor_stays_on_its_job_when_rows_arrive(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert table(app).selected.id == "deploy-site"
        app.queue.enqueue("echo urgent", id="urgent", priority=99)
        app.queue.enqueue("echo later", id="later-1", priority=-5)
        await settle(pilot)
        assert list(table(app).jobs)[0] == "urgent"
        assert table(app).selected.id == "deploy-site"
        assert table(app).cursor_row == 3


async def test_writes_are_refused_once_the_database_file_is_deleted_or_replaced(tmp_path):
    """The app's connections still reach the old file: what it wrote there no worker would ever
    read. The form and the keys say so instead, and nothing is written."""
    db = tmp_path / "q.db"
    app = demo_app(str(db))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        await pilot.press("e", *"echo lost")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "nothing was written" in str(app.screen.query_one("#command-error").render()))
        assert isinstance(app.screen, EnqueueScreen) and "deleted" in str(app.screen.query_one("#command-error").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await goto(pilot, "dead")
        await pilot.press("r")
        await until(pilot, lambda: any("nothing was written" in n.message for n in app._notifications))
        assert app.queue.job("nightly-backup").state == "dead"  # read from the old file, unchanged
    assert not db.exists()  # nothing made a new file at the path either
