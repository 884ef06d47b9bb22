"""The base of every table of rows in the app: a row cursor, zebra stripes, and `home` / `end` to the
first / last row (DataTable's own scroll the columns sideways, so P or L then acted on another row
than the one a user had just gone to)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class RowTable(DataTable):
    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
