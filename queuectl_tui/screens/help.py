"""Every key of a screen, on `?`: what the footer has no room for is here."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from ..widgets.footer import KeyFooter


@dataclass(frozen=True)
class Key:
    """One line of a screen's key list (`?`). With an action it is also a command palette entry,
    named `command` (else `does`), offered while the screen's check_action allows the action."""

    keys: str
    does: str
    action: str | None = None
    section: str = ""
    command: str = ""
    in_help: bool = True  # False: a palette entry only (a key with two meanings has one help line)


def palette_entries(screen: Screen) -> list[tuple[str, str, str]]:
    """(title, help, action) of the screen's keys that apply now."""
    entries = []
    for key in getattr(screen, "KEYS", ()):
        if key.action is None:
            continue
        name, params = key.action, ()
        if "(" in name:  # show_tab('dead')
            name, _, rest = name.partition("(")
            params = (rest.rstrip(")").strip("'\""),)
        if screen.check_action(name, params) is True:
            help_text = f"key {key.keys}" + (f": {key.does}" if key.command else "")
            entries.append((key.command or key.does, help_text, key.action))
    return entries


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", key_display="esc"),
    ]

    def __init__(self, keys: tuple[Key, ...], title: str) -> None:
        super().__init__()
        self.keys, self.title_text = keys, title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Label(self.title_text, classes="title", markup=False)
            with VerticalScroll(id="help-body"):
                yield Static(self.table(), id="help-keys")
        yield KeyFooter()

    def table(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        section = None
        for key in self.keys:
            if not key.in_help:
                continue
            if key.section != section:
                if section is not None:
                    grid.add_row("", "")
                section = key.section
                grid.add_row(Text(section, style="bold underline"), "")
            grid.add_row(Text(key.keys), Text(key.does))
        return grid

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
