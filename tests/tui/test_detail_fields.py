"""The job detail shows every field of the job, each value whole: its queue, worker, directory and
env (literally, as the enqueue form takes them), and a long command folded over lines, never cut."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from core import Queue
from queuectl_tui.screens.detail import DetailScreen

from .fixtures import demo_app, settle, table, until

LONG_COMMAND = "echo " + "0123456789" * 60  # one 600-character word: it must be folded, not cut


async def open_detail(pilot, job_id: str) -> Static:
    """Open a job's detail from the Pending tab (or the one shown); its fields once loaded."""
    app = pilot.app
    await settle(pilot)
    table(app).move_cursor(row=list(table(app).jobs).index(job_id))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.job is not None)
    await pilot.pause()
    return app.screen.query_one("#fields", Static)


def field_values(widget: Static) -> dict[str, str]:
    """The detail's fields as drawn on the screen: label -> value, a folded value's lines joined."""
    lines = [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]
    values: dict[str, list[str]] = {}
    label = ""
    start = 0
    for line in lines:
        if line and not line[0].isspace():  # a new field: its label, two spaces, its value
            label, _, rest = line.partition("  ")
            start = len(label) + 2 + (len(rest) - len(rest.lstrip()))
            values[label] = []
        if label:
            values[label].append(line[start:])
    return {name: "".join(parts) for name, parts in values.items()}


@pytest.mark.parametrize("size", [(200, 50), (80, 24)])
async def test_the_detail_shows_queue_directory_env_and_a_long_command_whole(tmp_path, size):
    db = str(tmp_path / "q.db")
    app = demo_app(db)
    with Queue.open(db) as q:
        q.enqueue(LONG_COMMAND, id="long-one", queue="reports", cwd="/srv/reports",
                  env={"GREETING": "[bold]hi[/bold] there", "PLAIN": "x"}, priority=99)
    async with app.run_test(size=size) as pilot:
        values = field_values(await open_detail(pilot, "long-one"))
        assert "…" not in values["command"]
        assert values["command"].replace(" ", "") == LONG_COMMAND.replace(" ", "")
        assert values["directory"] == "/srv/reports"
        assert values["env"] == "GREETING='[bold]hi[/bold] there' PLAIN=x"  # markup shown literally
        assert values["worker"] == "-"
        # two fields a line below the long ones: the queue is one of them
        assert any(line.startswith("queue") and "reports" in line
                   for line in (app.screen.query_one("#fields", Static).render_line(y).text
                                for y in range(app.screen.query_one("#fields", Static).size.height)))


async def test_a_64_letter_queue_is_shown_whole_at_80_columns(tmp_path):
    """The queue shares its line with the priority: it was cut with an ellipsis at 80 columns."""
    db = str(tmp_path / "q.db")
    app = demo_app(db)
    with Queue.open(db) as q:
        q.enqueue("true", id="far", queue="z" * 64, delay=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        fields = await open_detail(pilot, "far")
        text = "".join(fields.render_line(y).text for y in range(fields.size.height))
        assert text.count("z") == 64 and "…" not in text


async def test_an_env_written_by_hand_is_shown_as_the_database_has_it(tmp_path):
    """Not an object of text values (written past enqueue's checks): shown as it is, not a crash."""
    import sqlite3

    db = str(tmp_path / "q.db")
    app = demo_app(db)
    with Queue.open(db) as q:
        q.enqueue("env", id="by-hand", env={"A": "b"})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET env = '[1, \"[bold]x\"]' WHERE id = 'by-hand'")
    async with app.run_test(size=(120, 40)) as pilot:
        assert field_values(await open_detail(pilot, "by-hand"))["env"] == "[1, '[bold]x']"
