"""A live table of jobs: rows keyed by job id, updated by diff so the cursor stays on its job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from core.models import Job

from ..render import ago, clip, count, due, safe, span
from .row_table import RowTable



@dataclass(frozen=True)
class When:
    """What a cell may show besides its job: the time, and the queues that hold their due jobs back."""

    now: float
    held: Mapping[str, str] = field(default_factory=dict)  # queue -> "paused" or "full" (QueueInfo.held)


Cell = Callable[[Job, When], Text | str]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Cell
    width: int | None = None  # None: sized to content
    max_width: int | None = None  # longer cells are cut with an ellipsis (the detail shows them whole)
    ticks: bool = False  # the cell depends on the time as well as the job ("in 3s", "2m ago")
    cut: Callable[[Text, int], Text] = clip  # how a cell longer than max_width is cut


@dataclass(frozen=True)
class View:
    """One tab of the main screen: which jobs, in what order, shown how."""

    id: str
    title: str
    states: tuple[str, ...]
    order: str
    columns: tuple[Column, ...]
    empty: str


def _state(job: Job, when: When) -> Text:
    if job.state == "failed":
        return Text("retry", style="bold $warning")
    return Text(job.state)


def _due(job: Job, when: When) -> Text:
    if job.waiting:  # waits for its `after` jobs: say for which (the detail lists them all)
        first = job.waiting_on[0] if job.waiting_on else "?"
        more = f" +{job.waiting - 1}" if job.waiting > 1 else ""
        return Text.assemble("after ", safe(first), more, style="$secondary")
    # A paused queue holds even its delayed jobs; a full one only those already due.
    held = when.held.get(job.queue, "")
    if held == "paused" or (held and job.run_at <= when.now):
        return Text(f"{held} queue", style="$warning")
    return Text(due(job.run_at, when.now))


def _cut_due(text: Text, width: int) -> Text:
    """"after <id> +2" cut in the id, so that the count of the other ids stays in view."""
    head, sep, more = text.plain.rpartition(" +")
    if text.cell_len <= width or not sep or not more.isdigit():  # ids hold no "+" nor space
        return clip(text, width)
    cut = clip(text[:len(head)], width - len(sep + more))
    cut.append_text(text[len(head):])
    return cut


def _tries(job: Job, when: When) -> str:
    return f"{count(job.attempts, 4)}/{count(job.max_retries + 1, 4)}"  # "0/9e18" at most, as a rule


def _error(job: Job, when: When) -> Text:
    return safe(job.last_error or "", style="$error")


# Ids may have 128 characters, queues 64, priorities 20: with the longest of each (and of workers
# and errors), every view still starts COMMAND 10 cells before the right edge of an 80-column
# screen (tests/tui/test_small_screen.py checks each view).
ID_WIDTH = 16
WIDE = 160  # on a terminal this wide the capped columns get twice their cells
ID = Column("id", "ID", lambda j, w: safe(j.id), max_width=ID_WIDTH)
COMMAND = Column("command", "COMMAND", lambda j, w: safe(j.command))
TRIES = Column("tries", "TRIES", _tries)
QUEUE = Column("queue", "QUEUE", lambda j, w: safe(j.queue), max_width=8)
PRIORITY = Column("priority", "PRI", lambda j, w: count(j.priority, 5))

VIEWS: tuple[View, ...] = (
    View("pending", "Pending", ("pending", "failed"), "claim", (
        ID, Column("state", "STATE", _state), QUEUE, PRIORITY, TRIES,
        Column("due", "DUE", _due, max_width=16, ticks=True, cut=_cut_due), COMMAND,
    ), "Nothing waiting. Press e to enqueue a job."),
    View("processing", "Processing", ("processing",), "started", (
        ID, QUEUE, Column("worker", "WORKER", lambda j, w: safe(j.worker), max_width=16), TRIES,
        Column("running", "RUNNING", lambda j, w: span(w.now - (j.started_at or w.now)), ticks=True), COMMAND,
    ), "No job is running."),
    View("dead", "Dead", ("dead",), "finished", (
        ID, QUEUE, TRIES, Column("finished", "DIED", lambda j, w: ago(j.finished_at, w.now), ticks=True),
        Column("error", "LAST ERROR", _error, max_width=20), COMMAND,
    ), "The dead-letter queue is empty."),
    View("completed", "Completed", ("completed",), "finished", (
        ID, QUEUE, TRIES, Column("duration", "TOOK", lambda j, w: span((j.finished_at or 0) - (j.started_at or 0))),
        Column("finished", "FINISHED", lambda j, w: ago(j.finished_at, w.now), ticks=True), COMMAND,
    ), "No completed jobs yet."),
)
VIEW_BY_ID = {v.id: v for v in VIEWS}


class JobTable(RowTable):
    """DataTable of one View. `show()` applies a fresh window of rows as a diff."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="detail")]  # shown in the footer

    def __init__(self, view: View, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.jobs: dict[str, Job] = {}  # shown, in order
        self._cells: dict[str, list[Text]] = {}
        self._look: tuple = ()  # (wide, theme variables) the cells were made for
        self._measure = False  # rows or cells changed since the columns were last measured
        self._drawn_widths: tuple[int, ...] = ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":
            return bool(self.jobs)  # no Open on an empty table
        return True

    def on_mount(self) -> None:
        for column in self.view.columns:
            self.add_column(column.label, key=column.key, width=column.width)

    @property
    def selected(self) -> Job | None:
        if not self.jobs or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.jobs.get(key or "")

    def show(self, jobs: Sequence[Job], when: When) -> None:
        """Make the table hold exactly `jobs`, in order, keeping the cursor on the same job.
        Only cells whose text changed are touched: a refresh of an idle queue costs nothing."""
        selected = self.selected
        fresh = {job.id: job for job in jobs}
        gone = [key for key in self.jobs if key not in fresh]
        for key in gone:
            self.remove_row(key)
            del self._cells[key]
        wide = self.app.size.width >= WIDE  # room to spare: long ids and errors may take twice the cells
        # The theme's colours, not its name: they change a moment after the name (App.refresh_css)
        look, self._look = self._look, (wide, self.app.theme_variables)
        # A changed cell wider than its column widens it (see _widen); new rows widen it themselves.
        widths = [self.columns[ColumnKey(column.key)].content_width for column in self.view.columns]
        grown: dict[int, tuple[int, str]] = {}  # column index -> the widest outgrowing cell: (cells, row key)
        for job in jobs:
            old = self._cells.get(job.id)
            if old is None:
                cells = [self._cell_of(column, job, when, wide) for column in self.view.columns]
                self.add_row(*cells, key=job.id)
                self._cells[job.id] = cells
                continue
            # an unchanged job, drawn the same way: only the cells that tell the time can differ
            same = look == self._look and self.jobs.get(job.id) == job
            for index, column in enumerate(self.view.columns):
                if same and not column.ticks:
                    continue
                cell = self._cell_of(column, job, when, wide)
                if cell != old[index] or cell.style != old[index].style:  # Text's == ignores its style
                    self.update_cell(job.id, column.key, cell)
                    old[index] = cell
                    if cell.cell_len > max(widths[index], grown.get(index, (0, ""))[0]):
                        grown[index] = (cell.cell_len, job.id)
        if gone or look != self._look:  # rows left, or every cell was redrawn for another width
            self._shrink_columns()
        self._widen(grown)
        self._measure = True
        order_changed = list(self.jobs) != list(fresh)
        self.jobs = fresh
        if order_changed:
            # The id cells may be cut short: find each row by its cell object, not by its text.
            position = {id(self.get_cell(job_id, "id")): index for index, job_id in enumerate(fresh)}
            self.sort("id", key=lambda cell: position[id(cell)])
        self._restore_cursor(selected)

    def on_idle(self) -> None:
        # Runs just before DataTable's own idle handler, which measures the new and changed cells
        # and widens their columns. Textual 8.2.8 caches each rendered cell without its column's
        # width, so a frame drawn between show() and that measuring (a busy screen: the footer
        # being rebuilt) kept cells cut to the header's width until the next change. Look again
        # once the measuring is done, and redraw if a column's width moved.
        if self._measure:
            self._measure = False
            self.call_later(self._redraw_if_resized)

    def _redraw_if_resized(self) -> None:
        widths = tuple(column.get_render_width(self) for column in self.columns.values())
        if widths != self._drawn_widths:
            self._drawn_widths = widths
            self._clear_caches()
            self.refresh()

    def _widen(self, grown: dict[int, tuple[int, str]]) -> None:
        """update_cell() leaves a column as wide as it was, so a cell that grew in place ("in" for
        "in 1m38s") was cut, and stayed cut. Have DataTable measure one cell per column: the widest
        that outgrew it. Only a cell wider than its column: for a narrower one, DataTable measures
        every cell of the column, too slow for cells that tick every second."""
        for index, (cells, key) in grown.items():
            column = self.view.columns[index]
            if cells > self.columns[ColumnKey(column.key)].content_width:
                self.update_cell(key, column.key, self._cells[key][index], update_width=True)

    def _shrink_columns(self) -> None:
        """DataTable widens a column for a long cell but never narrows it again when that row
        leaves, or when every cell is cut shorter (a terminal no longer WIDE): narrow each column
        back to its widest cell."""
        for index, column in enumerate(self.view.columns):
            shown = self.columns[ColumnKey(column.key)]
            if not shown.auto_width:
                continue
            widest, key = max([(shown.label.cell_len, ""),
                               *((cells[index].cell_len, job_id) for job_id, cells in self._cells.items())],
                              key=lambda pair: pair[0])
            if widest < shown.content_width:
                shown.content_width = widest
                if key:  # measured as wide as the column now is: the table's size is worked out again
                    self.update_cell(key, column.key, self._cells[key][index], update_width=True)

    def _cell_of(self, column: Column, job: Job, when: When, wide: bool) -> Text:
        return self._cell(column.cell(job, when), column.max_width and column.max_width * (2 if wide else 1),
                          column.cut)

    def _cell(self, value: Text | str, max_width: int | None = None, cut: Callable[[Text, int], Text] = clip) -> Text:
        """Plain str cells would be parsed as markup: make every cell a Text, and resolve theme
        variables ($error, $warning) that Rich styles cannot name."""
        if isinstance(value, str):
            value = Text(value)
        if max_width is not None:
            value = cut(value, max_width)
        style = str(value.style)
        if not style:
            return value
        if style.startswith(("$", "bold $")):
            bold, _, name = style.rpartition("$")
            color = self.app.theme_variables.get(name, "")
            value.style = f"{bold}{color}".strip()
        return value

    def _restore_cursor(self, selected: Job | None) -> None:
        if selected is None or not self.jobs:
            return
        try:
            row = self.get_row_index(selected.id)
        except RowDoesNotExist:
            row = min(self.cursor_row, self.row_count - 1)  # its job left: stay where the eye was
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False, scroll=False)
