"""The Schedules view (`S`): schedules listed literally, `p` pauses and resumes the selected one."""

from __future__ import annotations

from textual.widgets import DataTable

from core import Queue
from queuectl_tui.screens.main import MainScreen
from queuectl_tui.screens.schedules import SchedulesScreen

from .fixtures import demo_app, settle, until


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
        await settle(pilot)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert [table.get_row_at(i)[0].plain for i in range(2)] == ["backup", "sync"]
        assert table.get_row_at(0)[4].plain == "30 2 * * * (Europe/Berlin)"
        await pilot.press("p")
        await until(pilot, lambda: paused(0))
        await until(pilot, lambda: table.get_row_at(0)[1].plain == "paused")
        await pilot.press("down", "p")
        await until(pilot, lambda: paused(1))
        await pilot.press("up", "p")
        await until(pilot, lambda: not paused(0))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
