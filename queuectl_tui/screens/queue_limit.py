"""Set a queue's limit: one field, checked as you type by the engine's rule, saved with enter or ctrl+s."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from core.models import QueueInfo
from core.queue import MAX_QUEUE_LIMIT

from ..render import safe
from ..widgets.footer import KeyFooter


def parse_limit(text: str) -> int | str:
    """The limit typed, or why it is not one."""
    text = text.strip()
    if not text.isdigit() or int(text) > MAX_QUEUE_LIMIT:
        return f"a whole number from 0 (no limit) to {MAX_QUEUE_LIMIT:,}"
    return int(text)


class LimitScreen(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "close", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, info: QueueInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="form limit"):
            yield Label(Text.assemble("Limit of queue ", safe(self.info.name, style="bold")), classes="title")
            yield Label("At most this many of its jobs run at once, on every host; 0 = no limit.", classes="hint")
            yield Input(str(self.info.limit), id="limit", compact=True, select_on_focus=True)
            yield Label("", id="limit-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Cancel (esc)", id="close")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#limit-error", Label).display = False
        self.query_one("#limit", Input).focus()

    def check(self) -> int | None:
        value = parse_limit(self.query_one("#limit", Input).value)
        error = value if isinstance(value, str) else ""
        label = self.query_one("#limit-error", Label)
        label.update(error)
        label.display = bool(error)
        self.query_one("#limit", Input).set_class(bool(error), "-invalid")
        return None if isinstance(value, str) else value

    @on(Input.Changed)
    def changed(self) -> None:
        self.check()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_close()

    def action_save(self) -> None:
        value = self.check()
        if value is not None:
            self.dismiss(value)

    def action_close(self) -> None:
        self.dismiss(None)
