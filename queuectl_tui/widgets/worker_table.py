"""The Workers tab's table: one row per live worker, keyed by id, updated by diff like the job tables."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from core.models import WorkerInfo

from ..render import ago, safe
from .row_table import RowTable

COLUMNS = (("id", "ID"), ("host", "HOST"), ("pid", "PID"), ("job", "JOB"), ("beat", "HEARTBEAT"), ("where", ""))


class WorkerTable(RowTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._cells: dict[str, list[Text]] = {}  # the rows, by worker id

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, workers: Sequence[WorkerInfo], now: float, mine: set[str]) -> None:
        """Hold exactly these workers, by id (`mine`: this app's): only the cells that changed are
        touched, and the cursor stays on its worker."""
        fresh = {w.id: [safe(w.id), safe(w.host), Text(str(w.pid)), safe(w.job_id or "idle"),
                        Text(ago(w.heartbeat_at, now)), Text("this app" if w.id in mine else "")]
                 for w in workers}
        selected = (self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
                    if 0 <= self.cursor_row < self.row_count else None)
        for key in [key for key in self._cells if key not in fresh]:
            self.remove_row(key)
        for key, cells in fresh.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                continue
            for (column, _), before, after in zip(COLUMNS, old, cells):
                if before != after:
                    self.update_cell(key, column, after, update_width=True)
        if [row.key.value for row in self.ordered_rows] != list(fresh):  # a new worker came last
            # The id cells are found by identity (their text may be escaped): a worker's id never changes.
            position = {id(self.get_cell(key, "id")): index for index, key in enumerate(fresh)}
            self.sort("id", key=lambda cell: position[id(cell)])
        self._cells = fresh
        if selected in fresh and self.get_row_index(selected) != self.cursor_row:  # sort() kept the index
            self.move_cursor(row=self.get_row_index(selected), animate=False, scroll=False)
