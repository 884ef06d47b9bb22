"""Issue 17 item 3: the app on an 80x24 terminal (the snapshot tests show every screen there too)."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from core import Queue
from core.models import SETTINGS
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.settings import SettingsScreen
from queuectl_tui.widgets.footer import KeyFooter
from queuectl_tui.widgets.job_table import ID_WIDTH, VIEWS
from queuectl_tui.widgets.stats import StatsStrip

from .fixtures import demo_app, finish, goto, settle, table, until

SMALL = (80, 24)
LONG_ID = "a-very-long-job-id-" + "x" * 45  # 64 characters


def column_widths(app) -> dict[str, int]:
    t = table(app)
    return {str(column.label): column.get_render_width(t) for column in t.columns.values()}


async def test_a_long_id_is_cut_short_and_the_column_narrows_again_when_it_leaves(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        before = column_widths(app)
        app.queue.enqueue("echo long id", id=LONG_ID, priority=50)
        await settle(pilot)
        assert LONG_ID in table(app).jobs
        cell = table(app).get_cell(LONG_ID, "id")
        assert cell.plain == LONG_ID[:ID_WIDTH - 1] + "…" and cell.cell_len == ID_WIDTH
        widths = column_widths(app)
        assert widths["ID"] == ID_WIDTH + 2  # cell padding
        # DUE and COMMAND still start on screen.
        before_command = sum(w for label, w in widths.items() if label != "COMMAND")
        assert before_command + 10 < SMALL[0], widths
        # The detail shows the whole id.
        await pilot.press("home", "enter")
        await until(pilot, lambda: getattr(app.screen, "job", None) is not None)
        assert app.screen.job.id == LONG_ID and LONG_ID in str(app.screen.query_one("#detail-title").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        app.queue.cancel(LONG_ID)  # it leaves the pending tab
        await settle(pilot)
        assert LONG_ID not in table(app).jobs
        await pilot.pause()
        assert column_widths(app) == before


INT64 = 2**63 - 1  # the bound of priority and max_retries (core/validate.py)
LONGEST_QUEUE = "q" * 64
LONG_WORKER = "a-build-host-with-a-long-name.internal.example.com:4242:ab12cd:1"


def longest_id(tag: str) -> str:
    return tag + "-" + "x" * (127 - len(tag))  # 128 characters, the most an id may have


def worst_case_jobs(app) -> None:
    """A job in every view with the longest values each column can hold."""
    q, clock = app.queue, app.clock
    fields = {"queue": LONGEST_QUEUE, "priority": INT64, "max_retries": INT64}
    at = clock.now()
    clock.at = at - 2 * 3600  # finished long enough ago for their times to take many cells
    q.enqueue("sleep 1", id=longest_id("done"), **fields)
    finish(q, clock, longest_id("done"), LONG_WORKER, 3599, "completed", 0, None)
    clock.at = at - 3600
    q.enqueue("false", id=longest_id("died"), **fields)  # dead by a cancel, say: TRIES 1/9e18
    finish(q, clock, longest_id("died"), LONG_WORKER, 1, "dead", 1, "exit code 1: " + "it went wrong " * 20)
    clock.at = at
    q.enqueue("false", id=longest_id("retry"), **fields)
    finish(q, clock, longest_id("retry"), LONG_WORKER, 1, "failed", 1, "exit code 1", retry_in=9 * 365 * 86400)
    clock.at = at
    q.enqueue("sleep 100", id=longest_id("running"), **fields)
    job = q.store.claim(LONG_WORKER, clock.now(), clock.now() + 30)
    assert job is not None and job.id == longest_id("running")
    clock.at = at + 3599  # running for 59m59s
    q.enqueue("true", id=longest_id("first"), **fields)
    q.enqueue("true", id=longest_id("then"), **{**fields, "priority": -INT64,
                                                 "after": [longest_id("first"), longest_id("done")]})
    q.enqueue("true", id=longest_id("waits"), **{**fields, "priority": -INT64,
                                                  "after": [longest_id("first"), longest_id("then")]})


@pytest.mark.parametrize("view", [view.id for view in VIEWS])
async def test_every_job_view_keeps_command_on_an_80_column_screen(tmp_path, view):
    app = demo_app(str(tmp_path / "q.db"))
    worst_case_jobs(app)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await goto(pilot, view)
        await pilot.pause()
        t = table(app)
        assert sum(len(job_id) == 128 for job_id in t.jobs) >= (3 if view == "pending" else 1)
        widths = column_widths(app)
        before_command = sum(w for label, w in widths.items() if label != "COMMAND")
        assert before_command <= SMALL[0] - 10, widths
        assert "COMMAND" in t.render_line(0).text  # the header, as drawn
        if view == "pending":  # an `after` id is cut in the middle: how many more it waits on stays
            due = t.get_cell(longest_id("waits"), "due")
            assert due.plain == "after first-… +1" and due.cell_len == 16


async def test_the_strip_stays_on_one_line_and_keeps_the_pool(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        strip = app.screen.query_one(StatsStrip)
        assert strip.region.height == 1
        text = strip.render()
        assert text.cell_len <= strip.content_size.width
        assert "pool 0 (0 busy)" in text.plain and "3 dead" in text.plain
        for count in range(1000, 1003):  # bigger numbers: parts go, the pool stays
            app.queue.enqueue_many([{"command": "true"}] * 250 * (count - 999))
        await settle(pilot)
        text = strip.render()
        assert text.cell_len <= strip.content_size.width and "pool 0 (0 busy)" in text.plain
        await pilot.resize_terminal(200, 50)
        await settle(pilot)
        wide = strip.render().plain
        assert "pending  " in wide and "/min" in wide and "others 2 (1 busy)" in wide


async def test_settings_scroll_and_always_show_how_to_save(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        await until(pilot, lambda: screen.query_one("#set-max-retries", Input).value == "3")
        inside = screen.region
        dialog = screen.query_one("#dialog").region
        for button in screen.query(Button):
            assert dialog.contains_region(button.region) and inside.contains_region(button.region), button
        keys = {key.key_display: key.description for key in screen.query_one(KeyFooter).query("FooterKey")}
        assert keys == {"esc": "Cancel", "^s": "Save"}
        fields = list(screen.query(Input))
        assert len(fields) == len(SETTINGS)
        body = screen.query_one("#dialog VerticalScroll")
        assert body.max_scroll_y > 0  # not all of them fit: the fields scroll, the buttons stay
        for _ in range(len(fields) - 1):
            await pilot.press("tab")
        await pilot.pause(0.1)
        last = fields[-1]
        assert app.focused is last and body.region.contains_region(last.region)
        assert all(dialog.contains_region(b.region) for b in screen.query(Button))
        assert last.id == "set-hook-timeout"
        last.value = ""
        hook = 'echo "[red]$QUEUECTL_JOB_ID[/red]" >> /tmp/dead.log'  # text: kept as typed, not markup
        screen.query_one("#set-on-dead", Input).value = hook
        await pilot.press(*"45", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        config = Queue.open(app.queue.location).config()
        assert (config["hook-timeout"], config["on-dead"], config["on-completed"]) == (45, hook, "")


async def test_the_detail_fits_a_long_host_name_and_lines_up_its_fields(tmp_path):
    """At 80 columns the attempts' long RESULT and WORKER are cut to fit, and the chosen attempt's
    whole values show above its output; on a wide screen they are whole. Every field's value starts
    in one column."""
    app = demo_app(str(tmp_path / "q.db"))
    worst_case_jobs(app)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await goto(pilot, "dead")
        t = table(app)
        t.move_cursor(row=list(t.jobs).index(longest_id("died")))
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "job", None) is not None)
        await pilot.pause()
        runs = app.screen.query_one("#runs")
        *_, result, worker = (cell.plain for cell in runs.get_row_at(0))
        assert worker == "a-build-host-w…"
        assert result == "exit code 1: it…"  # RESULT_LEAST cells
        assert runs.virtual_size.width <= runs.size.width  # no sideways scrolling
        # the whole of the chosen attempt's cut row is shown above its output
        title = str(app.screen.query_one("#output-title").render())
        assert LONG_WORKER in title and "exit code 1: " + "it went wrong " * 19 + "it went wrong" in title
        fields = app.screen.query_one("#fields")
        lines = [fields.render_line(y).text for y in range(fields.size.height)]
        starts = {len(line) - len(line[len(line.split("  ")[0]):].lstrip())
                  for line in lines if line.strip() and not line[0].isspace()}
        assert len(starts) == 1, lines
        await pilot.resize_terminal(420, 40)  # room for the 290-cell RESULT
        await pilot.pause()
        assert runs.get_row_at(0)[-1].plain == LONG_WORKER
        assert "worker" not in str(app.screen.query_one("#output-title").render())
