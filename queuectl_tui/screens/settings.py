"""Settings: every config key, edited in place, validated by the engine's rules, saved together."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from core.errors import InvalidInput, QueueError
from core.models import SETTINGS, setting_text
from core.queue import Queue

from ..db_work import DbWork
from ..messages import DbResult
from ..widgets.footer import KeyFooter


def input_id(key: str) -> str:
    return "set-" + key


class SettingsScreen(DbWork, ModalScreen[list[str] | None]):
    BINDINGS = [
        Binding("escape", "close", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, queue: Queue) -> None:
        super().__init__()
        self.queue = queue
        self.saved: dict[str, int | float | str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="form"):
            yield Label("Settings (kept in the database; running workers pick changes up within one poll)",
                        classes="title")
            with VerticalScroll():
                for key, rule in SETTINGS.items():
                    with Horizontal(classes="field"):
                        yield Label(key, classes="field-label")
                        with Vertical(classes="field-input"):
                            yield Input(id=input_id(key), placeholder=rule.placeholder(),
                                        select_on_focus=False, disabled=True, compact=True)
                            yield Label(f"{rule.help}; {rule.describe()}", id=f"{key}-error",
                                        classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Cancel (esc)", id="close")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        self.run_db("load", lambda queue: queue.config())

    def on_db_result(self, message: DbResult) -> None:
        if message.error is not None:
            if isinstance(message.error, QueueError):
                self.notify(str(message.error), severity="error", markup=False)
        elif message.tag == "load":
            self.fill(message.result)
        else:  # saved
            self.dismiss(message.result)

    def fill(self, config: dict[str, int | float | str]) -> None:
        self.saved = config
        for key, value in config.items():
            field = self.query_one("#" + input_id(key), Input)
            field.value = setting_text(value)
            field.disabled = False
        self.query_one("#" + input_id(next(iter(SETTINGS))), Input).focus()

    def parsed(self) -> dict[str, int | float | str] | None:
        """Every value parsed, with problems shown next to their field; None if any is invalid."""
        values: dict[str, int | float | str] = {}
        ok = True
        for key, rule in SETTINGS.items():
            field = self.query_one("#" + input_id(key), Input)
            hint = self.query_one(f"#{key}-error", Label)
            try:
                values[key] = rule.parse(field.value.strip())
            except InvalidInput as exc:
                ok = False
                hint.update(str(exc))
                hint.set_classes("error")
                field.add_class("-invalid")
            else:
                hint.update(f"{rule.help}; {rule.describe()}")
                hint.set_classes("hint")
                field.remove_class("-invalid")
        return values if ok else None

    @on(Input.Changed)
    def changed(self) -> None:
        if self.saved:
            self.parsed()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_close()

    def action_save(self) -> None:
        values = self.parsed()
        if values is not None and self.saved:
            self.store({k: v for k, v in values.items() if v != self.saved.get(k)})

    def store(self, changes: dict[str, int | float | str]) -> None:
        def save(queue: Queue) -> list[str]:
            for key, value in changes.items():
                queue.set_setting(key, value)
            return list(changes)

        self.run_db("store", save, exclusive=True, writes=True)

    def action_close(self) -> None:
        self.dismiss(None)
