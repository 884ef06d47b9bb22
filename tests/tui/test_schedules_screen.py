"""The Schedules view (`S`): schedules listed literally, `p` pauses and resumes the selected one."""

from __future__ import annotations

import re

from textual.widgets import DataTable

from core import Queue
from core.clock import FixedClock
from core.schedules import fire_due
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.schedules import SchedulesScreen

from .fixtures import demo_app, settle, until


async def open_schedules(app, pilot, rows: int) -> DataTable:
    """Press S on the main screen; the dialog's table once it shows `rows` schedules."""
    await settle(pilot)
    await pilot.press("S")
    await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))
    table = app.screen.query_one(DataTable)
    await until(pilot, lambda: table.row_count == rows)
    return table


async def test_schedules_view_lists_and_pauses(tmp_path):
    db = str(tmp_path / "q.db")

    def paused(index: int) -> bool:
        with Queue.open(db) as q:
            return q.schedules()[index].paused

    with Queue.open(db) as q:
        q.add_schedule("backup", "30 2 * * *", {"command": "echo '[bold]x[/bold]'"}, "Europe/Berlin")
        q.add_schedule("sync", "*/15 * * * *", {"command": "sync"})
    app = demo_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_schedules(app, pilot, 2)
        assert [table.get_row_at(i)[0].plain for i in range(2)] == ["backup", "sync"]
        assert [cell.plain for cell in table.get_row_at(0)[1:3]] == ["30 2 * * *", "Europe/Berlin"]
        await pilot.press("p")
        await until(pilot, lambda: paused(0))
        await until(pilot, lambda: table.get_row_at(0)[3].plain == "paused")
        await pilot.press("down", "p")
        await until(pilot, lambda: paused(1))
        await pilot.press("up", "p")
        await until(pilot, lambda: not paused(0))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


def columns_in_view(table: DataTable) -> dict[str, str]:
    """Each column whose every cell is drawn whole inside the table: label -> its first row as drawn."""
    shown, start = {}, 0
    line = table.render_line(1).text
    for column in table.columns.values():
        width = column.get_render_width(table)
        if start + width <= table.scrollable_content_region.width:
            shown[str(column.label)] = line[start:start + width].strip()
        start += width
    return shown


async def test_cron_zone_and_next_due_fit_an_80_column_screen_whatever_their_length(tmp_path):
    db = str(tmp_path / "q.db")
    with Queue.open(db) as q:
        q.add_schedule("nightly-" + "x" * 92, "0,5,10,15,20,25,30,35,40,45,50,55 * * * *",
                       {"command": "echo " + "long " * 100}, "America/Argentina/Buenos_Aires")
        q.add_schedule("backup", "30 2 * * *", {"command": "backup"}, "Europe/Berlin")
    app = demo_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_schedules(app, pilot, 2)
        await pilot.pause()
        assert table.get_row_at(0)[0].plain == "backup"  # by name
        shown = columns_in_view(table)
        assert {"NAME", "CRON", "ZONE", "NEXT DUE"} <= set(shown), shown
        assert (shown["NAME"], shown["CRON"], shown["ZONE"]) == ("backup", "30 2 * * *", "Europe/Berlin")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", shown["NEXT DUE"]), shown  # to the minute
        header = table.render_line(0).text
        assert "CRON" in header and "ZONE" in header and "NEXT DUE" in header
        # the long one is cut with an ellipsis, the name, cron and zone alike
        cells = [cell.plain for cell in table.get_row_at(1)]
        assert cells[0].endswith("…") and cells[1].endswith("…") and cells[2].endswith("…")
        assert cells[1].startswith("0,5,10") and cells[2].startswith("America/")


async def test_the_schedules_dialog_stands_in_the_middle_and_its_rows_fit_it(tmp_path):
    db = str(tmp_path / "q.db")
    with Queue.open(db) as q:
        q.add_schedule("nightly-" + "x" * 92, "0,5,10,15,20,25,30,35,40,45,50,55 * * * *",
                       {"command": "true"}, "America/Argentina/Buenos_Aires")
        later = Queue(q.store, FixedClock(q.schedules()[0].next_due + 1))
        assert fire_due(later)  # its last job: a long id
    app = demo_app(db)
    async with app.run_test(size=(200, 50)) as pilot:
        table = await open_schedules(app, pilot, 1)
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert abs(dialog.region.x - (200 - dialog.region.right)) <= 1, dialog.region  # centred, as every dialog
        assert table.get_row_at(0)[5].plain.endswith("…")
        assert set(columns_in_view(table)) == {"NAME", "CRON", "ZONE", "NEXT DUE", "LAST RUN", "LAST JOB"}


async def test_enter_opens_the_last_job_of_the_selected_schedule(tmp_path):
    """The last job's id is off an 80-column dialog: enter shows the job itself, its output too."""
    from queuectl_tui.screens.detail import DetailScreen
    from tests.tui.test_keys import footer

    db = str(tmp_path / "q.db")
    with Queue.open(db) as q:
        q.add_schedule("backup", "*/15 * * * *", {"command": "backup"}, "Europe/Berlin")
        q.add_schedule("yearly", "0 0 1 1 *", {"command": "report"})
        q.pause_schedule("yearly", True)  # never fires here, whatever the date
        later = Queue(q.store, FixedClock(q.schedules()[0].next_due + 1))
        assert fire_due(later)
        made = q.schedules()[0].last_job
        assert q.schedules()[1].last_job is None
    app = demo_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_schedules(app, pilot, 2)
        assert footer(app)["⏎"] == "Last job" and footer(app)["esc"] == "Close"
        await pilot.press("down", "enter")  # yearly: nothing made yet
        await until(pilot, lambda: "yearly has no job to show yet" in [str(n.message) for n in app._notifications])
        assert isinstance(app.screen, SchedulesScreen)
        await pilot.press("up", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.job_id == made and made.startswith("backup:")
        await until(pilot, lambda: app.screen.job is not None)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))


async def test_with_no_schedule_enter_and_p_are_not_offered(tmp_path):
    from tests.tui.test_keys import footer

    app = demo_app(str(tmp_path / "q.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_schedules(app, pilot, 0)
        await pilot.pause()
        assert footer(app) == {"esc": "Close"}
