"""Issue 17 item 6: the app shows which database it is on, without a password."""

from __future__ import annotations

import os

from textual.widgets import Header

from core import Queue
from queuectl_tui.app import QueueApp, db_source
from queuectl_tui.render import db_label

from .fixtures import settle

SIZE = (80, 24)


def header_text(app) -> str:
    return str(app.screen.query_one(Header).query_one("HeaderTitle").render())


async def test_the_header_shows_the_database_and_where_it_came_from(tmp_path, monkeypatch):
    path = str(tmp_path / "q.db")
    for source, suffix in (("--db", ""), ("QUEUECTL_DB", " (QUEUECTL_DB)"), ("default", " (default)")):
        app = QueueApp(Queue.open(path), workers=0, db_source=source)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert header_text(app) == f"queuectl — {path}{suffix}"


def test_where_the_database_came_from(monkeypatch):
    monkeypatch.delenv("QUEUECTL_DB", raising=False)
    assert db_source(None) == "default"
    assert db_source("/tmp/x.db") == "--db"
    monkeypatch.setenv("QUEUECTL_DB", "/tmp/y.db")
    assert db_source(None) == "QUEUECTL_DB"
    assert db_source("/tmp/x.db") == "--db"


def test_the_label_hides_passwords_and_shortens_home():
    url = "postgresql://alice:s3cr%40t@db.example:5432/jobs?schema=q1&password=other&sslmode=require"
    label = db_label(url)
    assert label == "postgresql://alice@db.example:5432/jobs?schema=q1&sslmode=require"
    assert db_label("postgresql://alice:***@db/jobs", "QUEUECTL_DB") == "postgresql://alice@db/jobs (QUEUECTL_DB)"
    home = os.path.expanduser("~")
    assert db_label(os.path.join(home, ".local/share/queuectl/jobs.db"), "default") == \
        "~/.local/share/queuectl/jobs.db (default)"
    assert db_label("/tmp/[bold]q\x1b.db") == "/tmp/[bold]q\\e.db"  # literal, control characters shown
