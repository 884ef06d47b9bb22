"""Write screenshots/*.svg from the same deterministic scenes as the snapshot tests.

    make screenshots        (or: .venv/bin/python scripts/export_screenshots.py)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tui.fixtures import demo_app  # noqa: E402
from tests.tui.scenes import SCENES  # noqa: E402

PICTURES = ["main", "enqueue", "detail", "settings", "dead-confirm",
            "main-80x24", "help-80x24", "settings-80x24", "pool-stopped-80x24", "queues", "queue-limit-80x24"]


async def export(name: str, folder: Path) -> Path:
    size, setup = SCENES[name]
    with tempfile.TemporaryDirectory() as tmp:
        app = demo_app(str(Path(tmp) / "demo.db"))
        async with app.run_test(size=size) as pilot:
            await setup(pilot)
            svg = app.export_screenshot(title=f"queuectl-tui: {name}")
            app.exit()
    path = folder / f"{name}.svg"
    path.write_text(svg)
    return path


def main() -> None:
    folder = ROOT / "screenshots"
    folder.mkdir(exist_ok=True)
    for name in PICTURES:
        print(asyncio.run(export(name, folder)).relative_to(ROOT))


if __name__ == "__main__":
    main()
