"""Issue 17 item 3: the app on an 80x24 terminal (the snapshot tests show every screen there too)."""

from __future__ import annotations

from textual.widgets import Button, Input

from core import Queue
from core.models import SETTINGS
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.settings import SettingsScreen
from queuectl_tui.widgets.footer import KeyFooter
from queuectl_tui.widgets.job_table import ID_WIDTH
from queuectl_tui.widgets.stats import StatsStrip

from .fixtures import demo_app, goto, settle, table, until

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
