"""Schedules (`S`): each schedule's cron, next due time and last job; `p` pauses or resumes one,
`enter` opens its last job.

On an 80-column screen the name, cron, zone and next due time are always in view: long ones are
cut with `…` (the CLI's `schedule list` shows them whole), and the last job comes last."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from core.clock import SYSTEM, Clock
from core.queue import Queue
from core.schedules import Schedule

from ..db_work import DbWork
from ..messages import DbResult
from ..render import clip, safe, stamp
from ..widgets.footer import KeyFooter
from ..widgets.row_table import RowTable
from .detail import DetailScreen

COLUMNS = ("NAME", "CRON", "ZONE", "NEXT DUE", "LAST RUN", "LAST JOB")
NAME_WIDTH = CRON_WIDTH = ZONE_WIDTH = 16  # with NEXT DUE's 16: 72 cells, in a dialog 76 wide at 80 columns
LAST_JOB_WIDTH = 20  # and the whole row fits the dialog at its full width (110)


class ScheduleTable(RowTable):
    BINDINGS = [Binding("enter", "select_cursor", "Last job")]  # shown in the footer

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.row_count) if action == "select_cursor" else True  # nothing to open: not offered


class SchedulesScreen(DbWork, ModalScreen[None]):
    BINDINGS = [
        Binding("escape,S,q", "close", "Close", key_display="esc"),
        Binding("p", "toggle_pause", "Pause/resume"),
    ]

    def __init__(self, queue: Queue, clock: Clock = SYSTEM, refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.queue = queue
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.shown: list[Schedule] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="schedules"):
            yield Label("Schedules (times in UTC; `queuectl schedule add` makes one)", classes="title", markup=False)
            yield ScheduleTable(id="schedules-table")
            yield Label("", id="schedules-empty", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(RowTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.reload()
        self.set_interval(self.refresh_interval, self.reload)

    def reload(self) -> None:
        self.run_db("schedules", lambda q: q.schedules(), exclusive=True)

    def on_db_result(self, message: DbResult) -> None:
        if message.error is not None:
            self.notify(f"{message.error}", severity="error", markup=False)
        elif message.tag == "schedules":
            self.show(message.result)
        else:  # a pause or resume went through
            self.reload()

    def show(self, schedules: list[Schedule]) -> None:
        """Update the rows by key, so the cursor stays on its schedule."""
        table = self.query_one(RowTable)
        if bool(schedules) != bool(self.shown):  # enter and p are offered only with a schedule
            self.refresh_bindings()
        self.shown = schedules
        wanted = {s.name for s in schedules}
        for key in [k.value for k in list(table.rows) if k.value not in wanted]:
            table.remove_row(key)
        for s in schedules:
            cells = self.cells(s)
            if s.name in {k.value for k in table.rows}:
                for column, cell in zip(COLUMNS, cells):  # a few rows: widen for a grown cell
                    table.update_cell(s.name, column, cell, update_width=True)
            else:
                table.add_row(*cells, key=s.name)
        self.query_one("#schedules-empty", Label).update("" if schedules else "No schedules yet.")

    @staticmethod
    def cells(s: Schedule) -> list[Text]:
        # to the minute, as cron is; the title says the times are in UTC
        due = Text("paused", style="bold") if s.paused else Text(stamp(s.next_due)[:16])
        return [clip(safe(s.name), NAME_WIDTH), clip(safe(s.cron), CRON_WIDTH), clip(safe(s.tz), ZONE_WIDTH),
                due, Text(s.last_state or "-"), clip(safe(s.last_job or "-"), LAST_JOB_WIDTH)]

    def selected(self) -> Schedule | None:
        table = self.query_one(RowTable)
        if not self.shown or table.cursor_row >= len(table.rows):
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return next((s for s in self.shown if s.name == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.shown) if action == "toggle_pause" else True

    def action_toggle_pause(self) -> None:
        found = self.selected()
        if found is None:
            return
        pause = not found.paused
        self.run_db("pause", lambda q: q.pause_schedule(found.name, pause), writes=True)
        self.notify(f"{'Paused' if pause else 'Resumed'} {found.name}", markup=False)

    @on(DataTable.RowSelected)
    def open_last_job(self) -> None:
        found = self.selected()
        if found is None:
            return
        if found.last_job is None or found.last_state is None:  # none made yet, or pruned
            self.notify(f"{found.name} has no job to show yet", markup=False)
            return
        self.app.push_screen(DetailScreen(found.last_job, self.queue, self.clock, self.refresh_interval))

    def action_close(self) -> None:
        self.dismiss(None)
