"""The strip of queue figures above the tables: one line, whatever the width.

When the whole strip does not fit, it drops parts, least useful first: the spacing, the completions
per minute, the details of other processes' workers, then the per-state counts (the tab titles show
them too). The embedded pool's state always stays: it is what the keys + - p act on.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..messages import Snapshot


class StatsStrip(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.parts: tuple[Snapshot, str, set[str], dict[str, str]] | None = None

    def show(self, snap: Snapshot, pool_line: str, mine: set[str], theme: dict[str, str]) -> None:
        self.parts = (snap, pool_line, mine, theme)
        self.refresh()

    def variants(self) -> list[Text]:
        """The strip from the fullest to the barest."""
        assert self.parts is not None
        snap, pool_line, mine, theme = self.parts
        stopped = pool_line.startswith("pool stopped")
        pool = Text(pool_line, style=f"bold {theme.get('warning', '')}".strip() if stopped else "")
        others = [w for w in snap.workers if w.id not in mine]
        busy = sum(1 for w in others if w.job_id)
        other_long = Text(f"others {len(others)} ({busy} busy)") if others else None
        other_short = Text(f"+{len(others)} others") if others else None
        rate = Text(f"{snap.per_minute:,}/min", style="bold")
        c = snap.counts
        return [
            _join(_counts(c, theme, "  ", False), rate, pool, other_long),
            _join(_counts(c, theme, " ", False), rate, pool, other_long),
            _join(_counts(c, theme, " ", False), pool, other_long),
            _join(_counts(c, theme, " ", False), pool, other_short),
            _join(_counts(c, theme, " ", True), pool, other_short),
            _join(_counts(c, theme, " ", True), pool),
            _join(pool, other_short),
            _join(pool),
        ]

    def render(self) -> Text:
        if self.parts is None:
            return Text()
        width = self.content_size.width
        variants = self.variants()
        return next((text for text in variants if text.cell_len <= width), variants[-1])


def _counts(c: dict[str, int], theme: dict[str, str], gap: str, short: bool) -> Text:
    text = Text()
    parts = [
        ("pending", c["pending"], "foreground"),
        ("retrying", c["failed"], "warning"),
        ("processing" if not short else "running", c["processing"], "accent"),
        ("dead", c["dead"], "error"),
        ("completed" if not short else "done", c["completed"], "success"),
    ]
    for index, (name, value, color) in enumerate(parts):
        if index:
            text.append(gap)
        text.append(f"{value:,}", style=f"bold {theme.get(color, '')}".strip())
        text.append(f" {name}")
    return text


def _join(*parts: Text | None) -> Text:
    """The parts that are there, one line, divided by bars."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if part is None:
            continue
        if text:
            text.append(" │ ", style="dim")
        text.append_text(part)
    return text
