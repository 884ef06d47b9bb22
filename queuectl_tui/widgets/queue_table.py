"""The Queues tab's table: one row per queue, keyed by name, updated by diff like the job tables."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text

from core.models import QueueInfo

from ..render import clip, safe
from .row_table import RowTable

COLUMNS = (("name", "QUEUE"), ("pending", "WAITING"), ("running", "RUNNING"), ("limit", "LIMIT"),
           ("paused", "STATE"), ("completed", "DONE"), ("dead", "DEAD"))
NAME_WIDTH = 24  # and the six counts stay on an 80-column screen (`queuectl queue list` shows names whole)


def cells(info: QueueInfo) -> list[Text]:
    waiting = info.counts.get("pending", 0) + info.counts.get("failed", 0)  # retries wait too
    state = Text(info.held or "open", style="bold" if info.paused else "")
    return [clip(safe(info.name), NAME_WIDTH), Text(f"{waiting:,}"), Text(f"{info.running:,}"),
            Text(f"{info.limit:,}" if info.limit else "-"), state,
            Text(f"{info.counts.get('completed', 0):,}"), Text(f"{info.counts.get('dead', 0):,}")]


class QueueTable(RowTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.queues: dict[str, QueueInfo] = {}
        self._cells: dict[str, list[Text]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected(self) -> QueueInfo | None:
        if not self.queues or not 0 <= self.cursor_row < self.row_count:
            return None
        return self.queues.get(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or "")

    def show(self, queues: Sequence[QueueInfo]) -> None:
        """Hold exactly these queues, by name (names sort the same every time: new ones are added in place
        by sorting), with the cursor kept on its queue."""
        selected = self.selected
        fresh = {info.name: info for info in queues}
        for name in [name for name in self.queues if name not in fresh]:
            self.remove_row(name)
            del self._cells[name]
        for name, info in fresh.items():
            new, old = cells(info), self._cells.get(name)
            if old is None:
                self.add_row(*new, key=name)
            else:
                for (key, _), before, after in zip(COLUMNS, old, new):
                    if before != after:
                        self.update_cell(name, key, after, update_width=True)
            self._cells[name] = new
        if [row.key.value for row in self.ordered_rows] != list(fresh):
            position = {id(self.get_cell(name, "name")): index for index, name in enumerate(fresh)}
            self.sort("name", key=lambda cell: position[id(cell)])
        self.queues = fresh
        if selected is not None and selected.name in fresh:
            row = self.get_row_index(selected.name)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False, scroll=False)
