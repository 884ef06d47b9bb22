"""Issue 17 items 4 and 5: keys a user can find, and a footer that tells the truth."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import DataTable

from core.store import Outcome
from queuectl_tui.app import QueueApp
from queuectl_tui.screens.confirm import ConfirmScreen
from queuectl_tui.screens.detail import DetailScreen
from queuectl_tui.screens.enqueue import EnqueueScreen
from queuectl_tui.screens.help import HelpScreen
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.settings import SettingsScreen
from queuectl_tui.widgets.footer import KeyFooter

from .fixtures import NOW, WORKER, demo_app, finish, goto, seeded_queue, settle, table, until
from .scenes import detail_loaded

SIZE = (100, 30)


def footer(app) -> dict[str, str]:
    """The footer of the screen on top, as shown: key display -> description ("" in a group)."""
    return {key.key_display: key.description for key in app.screen.query_one(KeyFooter).query("FooterKey")}


def help_text(app) -> str:
    """The key list as the help screen lays it out (at its own width)."""
    console = Console(width=app.screen.query_one("#help-keys").size.width, record=True, file=io.StringIO())
    console.print(app.screen.table())
    return console.export_text()


async def settled_footer(pilot) -> dict[str, str]:
    await pilot.pause()
    await pilot.pause(0.05)
    return footer(pilot.app)


async def test_tab_and_brackets_cycle_tabs_and_the_table_keeps_the_focus(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        seen = []
        for _ in range(6):
            await pilot.press("tab")
            await settle(pilot)
            seen.append(app.screen.active_tab)
            assert app.focused is app.screen.query_one(f"#{seen[-1]}-table", DataTable)
        assert seen == ["processing", "dead", "completed", "workers", "queues", "pending"]
        await pilot.press("shift+tab", "shift+tab")
        await settle(pilot)
        assert app.screen.active_tab == "workers"
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert app.screen.active_tab == "processing"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert app.screen.active_tab == "pending"
        # One key per switch: the arrows move rows in the new tab at once, no Tab needed first.
        await pilot.press("3")
        await settle(pilot)
        assert app.focused is table(app) and table(app).selected.id == "nightly-backup"
        await pilot.press("down")
        assert table(app).selected.id == "hostile"
        assert "tab" in await settled_footer(pilot)  # "tab Next tab" (at 100 columns there is room)


async def test_question_mark_lists_every_key_and_esc_closes_it(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert (await settled_footer(pilot)).get("?") == "Keys"
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = help_text(app)
        for keys in ("tab  shift+tab", "1", "5", "home  end", "enter", "e", "r", "R", "x", "/", "+  -", "p",
                     "c", "?", "ctrl+p", "q"):
            assert any(line.lstrip().startswith(keys + " ") for line in text.splitlines()), keys
        for words in ("Retry all dead jobs", "Workers: the live workers", "Filter every tab",
                      "+ starts a new pool", "Pause / resume the pool", "The command palette"):
            assert words in text, words
        assert await settled_footer(pilot) == {"esc": "Close"}
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")  # ? toggles it too
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_home_and_end_go_to_the_first_and_last_row(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "completed")
        assert table(app).cursor_row == 0
        await pilot.press("end")
        assert table(app).cursor_row == table(app).row_count - 1 == 4
        assert table(app).selected.id == "thumb-1"
        await pilot.press("home")
        assert table(app).cursor_row == 0 and table(app).selected.id == "thumb-5"


async def test_end_in_the_detail_reaches_the_end_of_the_output(tmp_path):
    queue, clock = seeded_queue(str(tmp_path / "q.db"))
    queue.enqueue("seq 1 300", id="long-output", priority=100)
    clock.at = NOW
    finish(queue, clock, "long-output", WORKER, 0.2, "completed", 0, None,
           stdout="".join(f"line {n}\n" for n in range(1, 301)).encode())
    app = QueueApp(queue, workers=0, clock=clock, refresh_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await goto(pilot, "completed")
        assert table(app).selected.id == "long-output"
        await pilot.press("enter")
        await detail_loaded(pilot)
        body = app.screen.query_one("#detail-body")
        assert app.focused.id == "runs" and body.scroll_y == 0 and body.max_scroll_y > 250
        await pilot.press("end")  # no Tab to the output first
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        assert "line 300" in str(app.screen.query_one("#stdout-text").render())
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        assert app.focused.id == "runs"
        keys = await settled_footer(pilot)
        assert keys.get("end") == "End" and keys.get("?") == "Keys" and keys.get("esc") == "Back"
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Go to the end of the output" in help_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))


async def test_p_says_resume_while_paused(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert (await settled_footer(pilot)).get("p") == "Pause"
        await pilot.press("p")
        assert app.pools.pool.paused
        assert (await settled_footer(pilot)).get("p") == "Resume"
        assert "Resume the pool" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("p")
        assert not app.pools.pool.paused
        assert (await settled_footer(pilot)).get("p") == "Pause"


async def test_open_is_hidden_on_an_empty_table(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert (await settled_footer(pilot)).get("⏎") == "Open"
        await pilot.press("slash", *"matches-nothing", "enter")
        await settle(pilot)
        assert table(app).row_count == 0 and app.focused is table(app)
        assert "⏎" not in await settled_footer(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert (await settled_footer(pilot)).get("⏎") == "Open"


async def test_open_and_cancel_leave_the_footer_when_the_table_empties_by_itself(tmp_path):
    """No key press, no filter: the jobs leave the tab (cancelled elsewhere) and come back."""
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = await settled_footer(pilot)
        assert keys.get("⏎") == "Open" and keys.get("x") == "Cancel"
        for job_id in list(table(app).jobs):
            app.queue.cancel(job_id)  # as `queuectl cancel` from another terminal would
        await settle(pilot)
        assert table(app).row_count == 0
        keys = await settled_footer(pilot)
        assert "⏎" not in keys and "x" not in keys
        app.queue.enqueue("echo back", id="back")
        await settle(pilot)
        keys = await settled_footer(pilot)
        assert keys.get("⏎") == "Open" and keys.get("x") == "Cancel"
        # the running job ends while the cursor is on it: cancel no longer applies there
        await goto(pilot, "processing")
        assert (await settled_footer(pilot)).get("x") == "Cancel"
        app.queue.store.finish("train-model", WORKER, 1, Outcome("completed", None, 0, None, NOW - 45, NOW, b"", b""))
        await settle(pilot)
        keys = await settled_footer(pilot)
        assert "⏎" not in keys and "x" not in keys


async def test_a_dialog_footer_shows_the_dialogs_keys(tmp_path):
    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main_keys = await settled_footer(pilot)
        assert {"e", "q", "?"} <= set(main_keys)
        for key, screen, expected in (("e", EnqueueScreen, {"esc": "Cancel", "^s": "Enqueue"}),
                                      ("c", SettingsScreen, {"esc": "Cancel", "^s": "Save"}),
                                      ("x", ConfirmScreen, {"y": "Yes", "n": "No"})):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, screen))
            await until(pilot, lambda: footer(app) == expected)
            # The main screen's footer is not what the user reads: the dialog's covers it.
            region = app.screen.query_one(KeyFooter).region
            assert region.y == SIZE[1] - 1 and region.width == SIZE[0]
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, MainScreen))
