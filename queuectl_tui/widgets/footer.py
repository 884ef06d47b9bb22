"""The footer of every screen: the keys that apply now, fitted to the terminal's width.

Textual's Footer cuts the keys that do not fit off at the right edge, half a word at a time; at 80
columns that was `?` and `q`. This one drops whole keys instead, the screen's spare ones first
(`FOOTER_SPARE`: binding ids, dropped in that order), and always keeps the command palette key on the
right. What it drops is still listed by `?` and offered by the palette.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

PALETTE_WIDTH = 12  # "^p palette", its border and a margin


class Item(NamedTuple):
    binding: Binding
    enabled: bool
    tooltip: str


def labelled(items: list[Item]) -> list[tuple[Item, str]]:
    """Each item with the text after its key: its description, or, for the last key of a group
    (+ - of the pool), the group's name; the group's other keys stand alone."""
    out = []
    for index, item in enumerate(items):
        group = item.binding.group
        if group is None:
            out.append((item, item.binding.description))
            continue
        last = index + 1 == len(items) or items[index + 1].binding.group != group
        out.append((item, group.description if last else ""))
    return out


class KeyFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(compact=True, show_command_palette=True, **kwargs)
        self._width = 0

    def items(self) -> list[Item]:
        screen = self.screen
        order = {}  # the screen's keys in the order of its BINDINGS, after the focused widget's
        for index, binding in enumerate(getattr(type(screen), "BINDINGS", [])):
            if isinstance(binding, Binding):
                order.setdefault(binding.action, index)
        shown = sorted((((1, order.get(b.action, 0)) if node is screen else (0, 0), Item(b, enabled, tooltip))
                        for (node, b, enabled, tooltip) in screen.active_bindings.values() if b.show),
                       key=lambda pair: pair[0])  # stable: the focused widget's keys keep their order
        seen: set[str] = set()
        items = []
        for _, item in shown:
            if item.binding.action not in seen:  # one key per action, as Footer does
                seen.add(item.binding.action)
                items.append(item)
        return items

    def width_of(self, items: list[Item]) -> int:
        """Cells the keys take: "key description" and a space after each."""
        return sum(cell_len(self.app.get_key_display(item.binding)) + (cell_len(text) + 1 if text else 0) + 1
                   for item, text in labelled(items))

    def fitted(self, items: list[Item], width: int) -> list[Item]:
        spare = list(getattr(self.screen, "FOOTER_SPARE", ()))
        while self.width_of(items) > width:
            dropped = next((s for s in spare if any(item.binding.id == s for item in items)), None)
            if dropped is None:
                break
            items = [item for item in items if item.binding.id != dropped]
        return items

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        for item, text in labelled(self.fitted(self.items(), width - PALETTE_WIDTH)):
            binding = item.binding
            grouped = binding.group is not None
            yield FooterKey(binding.key, self.app.get_key_display(binding), "" if grouped else text,
                            binding.action, disabled=not item.enabled, tooltip=item.tooltip or binding.description,
                            ).data_bind(compact=Footer.compact)
            if grouped and text:
                yield FooterLabel(text, markup=False)
        active = self.screen.active_bindings
        if self.app.ENABLE_COMMAND_PALETTE and self.app.COMMAND_PALETTE_BINDING in active:
            _, binding, enabled, _ = active[self.app.COMMAND_PALETTE_BINDING]
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_mount(self) -> None:
        # Footer waits for a bindings change (a focus change, say) before it shows anything; a
        # dialog whose fields are not focusable yet would show no keys at all until then.
        self.call_after_refresh(self.screen.refresh_bindings)

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            if self._bindings_ready:
                self.call_after_refresh(self.recompose)
