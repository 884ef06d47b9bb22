"""Issue 13 in the app: the Queues tab (pause, resume, limit), the queue column, the enqueue form's
queue, directory and env fields, and the filter on queue names. Through Pilot, checked in the database."""

from __future__ import annotations

import os

from queuectl_tui.screens.enqueue import EnqueueScreen
from queuectl_tui.screens.queue_limit import LimitScreen

from .fixtures import demo_app, goto, settle, table, until
from .test_keys import footer

SIZE = (80, 24)


def limits(app) -> dict[str, tuple[int, bool]]:
    return {info.name: (info.limit, info.paused) for info in app.queue.queues()}


async def select_queue(pilot, name: str) -> None:
    queues = pilot.app.screen.query_one("#queues-table")
    queues.move_cursor(row=queues.get_row_index(name))
    await pilot.pause()


async def test_the_queues_tab_pauses_resumes_and_limits_the_selected_queue(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        queues = app.screen.query_one("#queues-table")
        rows = {name: [str(c) for c in queues.get_row(name)] for name in queues.queues}
        assert rows["gpu"] == ["gpu", "0", "1", "1", "full", "0", "0"]
        assert rows["mail"][3:5] == ["-", "paused"] and rows["images"][5] == "5"
        await select_queue(pilot, "mail")
        assert footer(app)["P"] == "Resume queue" and footer(app)["L"] == "Limit"
        await pilot.press("P")
        await until(pilot, lambda: limits(app)["mail"] == (0, False))
        await settle(pilot)
        assert footer(app)["P"] == "Pause queue"
        await pilot.press("P")
        await until(pilot, lambda: limits(app).get("mail") == (0, True))
        await select_queue(pilot, "gpu")
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LimitScreen)
        assert footer(app) == {"esc": "Cancel", "^s": "Save"}
        await pilot.press("backspace", "x")  # checked as you type, and not saved
        await pilot.press("enter")
        assert isinstance(app.screen, LimitScreen) and app.screen.query_one("#limit-error").display
        await pilot.press("backspace", "3", "enter")
        await until(pilot, lambda: limits(app)["gpu"] == (3, False))
        await pilot.press("L")
        await pilot.pause()
        await pilot.press("backspace", "9", "escape")
        await pilot.pause(0.2)
        assert limits(app)["gpu"] == (3, False)  # esc saved nothing
        await pilot.press("1")
        await settle(pilot)
        assert "P" not in footer(app) and "L" not in footer(app)  # queue keys only on the Queues tab


async def test_the_job_tables_show_the_queue_and_the_filter_matches_it(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pending = table(app)
        assert str(pending.get_cell("deploy-site", "queue")) == "deploy"
        assert str(pending.get_cell("pg-dump", "queue")) == "default"
        await pilot.press("slash", *"deploy", "enter")
        await settle(pilot)
        assert list(table(app).jobs) == ["deploy-site"]
        await goto(pilot, "completed")
        assert table(app).jobs == {}
        await pilot.press("escape")
        await settle(pilot)
        assert str(table(app).get_cell("thumb-1", "queue")) == "images"


async def test_the_enqueue_form_takes_a_queue_a_directory_and_variables(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, EnqueueScreen)
        form.query_one("#command").value = "make test"
        form.query_one("#queue").value = "Build"
        form.query_one("#cwd").value = "sub/dir"
        form.query_one("#env").value = "A=1 'B=two words'"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EnqueueScreen)  # a bad queue name: shown, nothing written
        assert "queue must match" in str(form.query_one("#queue-error").render())
        assert app.queue.count(queue="build") == 0
        form.query_one("#queue").value = "build"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, EnqueueScreen))
        job = app.queue.jobs(queue="build")[0]
        assert (job.command, job.queue, job.cwd, job.env) == (
            "make test", "build", os.path.join(os.getcwd(), "sub/dir"), {"A": "1", "B": "two words"})


async def test_home_and_end_on_the_queues_tab_pick_the_first_and_last_queue_and_long_names_are_cut(tmp_path):
    """home / end move the cursor, as on the job tabs (they scrolled the columns, and P then paused
    the queue the cursor had stayed on); a 64-letter name leaves the counts on an 80-column screen."""
    app = demo_app(str(tmp_path / "q.db"))
    long_name = "z" * 64
    app.queue.enqueue("true", queue=long_name, delay=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        queues = app.screen.query_one("#queues-table")
        names = list(queues.queues)
        await pilot.press("end")
        assert queues.selected.name == names[-1] == long_name
        await pilot.press("home")
        assert queues.selected.name == names[0]
        before = limits(app)
        await pilot.press("P")
        await until(pilot, lambda: limits(app) != before)
        flipped = {name for name, state in limits(app).items() if state != before.get(name, (0, False))}
        assert flipped == {names[0]}  # the first queue paused or resumed, none other
        assert str(queues.get_row(long_name)[0]) == "z" * 23 + "…"
        assert queues.scroll_x == 0 and queues.virtual_size.width <= 80


async def test_the_pending_tab_says_which_jobs_a_paused_or_full_queue_holds_back(tmp_path):
    """A due job of a paused queue, or of one running its limit, is not "now": the DUE column says
    why it waits. A paused queue holds its delayed jobs too; a full one only those already due."""
    app = demo_app(str(tmp_path / "q.db"))
    app.queue.enqueue("nvidia-smi", id="gpu-due", queue="gpu")  # gpu runs train-model, its limit is 1
    app.queue.enqueue("nvidia-smi -q", id="gpu-later", queue="gpu", delay=90)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def due(job_id: str) -> str:
            return str(table(app).get_cell(job_id, "due"))

        assert (due("weekly-digest"), due("gpu-due"), due("gpu-later"), due("pg-dump")) == (
            "paused queue", "full queue", "in 1m30s", "now")
        app.queue.resume_queue("mail")
        app.queue.set_queue_limit("gpu", 2)
        await settle(pilot)
        assert (due("weekly-digest"), due("gpu-due")) == ("in 29m40s", "now")
