"""The strip of queue figures above the tables."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..messages import Snapshot


class StatsStrip(Static):
    def show(self, snap: Snapshot, pool_line: str, mine: set[str], theme: dict[str, str]) -> None:
        c = snap.counts
        text = Text()
        parts = [
            ("pending", c["pending"], "foreground"),
            ("retrying", c["failed"], "warning"),
            ("processing", c["processing"], "accent"),
            ("dead", c["dead"], "error"),
            ("completed", c["completed"], "success"),
        ]
        for index, (name, value, color) in enumerate(parts):
            if index:
                text.append("  ")
            text.append(f"{value:,}", style=f"bold {theme.get(color, '')}".strip())
            text.append(f" {name}")
        text.append(" │ ", style="dim")
        text.append(f"{snap.per_minute:,}/min", style="bold")
        text.append(" │ ", style="dim")
        text.append(pool_line)
        others = [w for w in snap.workers if w.id not in mine]
        if others:
            busy = sum(1 for w in others if w.job_id)
            text.append(" │ ", style="dim")
            text.append(f"others {len(others)} ({busy} busy)")
        self.update(text)
