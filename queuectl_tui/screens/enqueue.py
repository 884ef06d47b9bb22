"""The enqueue form. Validation is the engine's own (core.validate), shown next to each field."""

from __future__ import annotations

import os
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from core.errors import InvalidInput, QueueError
from core.models import Settings
from core.queue import InvalidItem, Queue
from core.validate import job_spec

from ..db_work import DbWork
from ..messages import DbResult
from ..widgets.footer import KeyFooter

# (field, label, placeholder); numbers are typed as text and parsed here.
FIELDS = (
    ("command", "Command", "shell command, run with /bin/sh -c"),
    ("id", "Id", "optional; generated when empty"),
    ("max_retries", "Max retries", "default: config max-retries"),
    ("priority", "Priority", "integer, higher runs first (default 0)"),
    ("delay", "Delay (s)", "seconds before it may run (default 0)"),
    ("timeout", "Timeout (s)", "seconds; empty = config job-timeout"),
    ("queue", "Queue", "default when empty"),
    ("cwd", "Directory", "where it runs; relative to this app's; empty: the worker's"),
    ("env", "Env", "NAME=value ... (shell quoting); stored and shown: no secrets"),
    ("after", "After", "ids of jobs that must complete first, space-separated"),
    ("unique_key", "Unique key", "optional: one unfinished job per key"),
)
NUMBERS = {"max_retries": int, "priority": int, "delay": float, "timeout": float}


def form_to_job(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse the form's text into a job object; returns (job, errors by field)."""
    job: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, text in values.items():
        text = text.strip() if name != "command" else text
        if not text.strip():
            continue
        if name in NUMBERS:
            try:
                job[name] = NUMBERS[name](text)
            except ValueError:
                errors[name] = f"must be {'an integer' if NUMBERS[name] is int else 'a number'}"
        elif name == "cwd":
            job[name] = text if text.startswith("/") else os.path.normpath(os.path.join(os.getcwd(), text))
        elif name == "after":
            job[name] = text.split()
        elif name == "env":
            try:
                job[name] = env_from_text(text)
            except ValueError as exc:
                errors[name] = str(exc)
        else:
            job[name] = text
    return job, errors


def env_from_text(text: str) -> dict[str, str]:
    """NAME=value pairs, split as a shell would (quotes keep spaces); ValueError says what is wrong."""
    import shlex

    env = {}
    for item in shlex.split(text):  # ValueError on an unclosed quote
        name, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"env: {item!r} is not NAME=value")
        env[name] = value
    return env


def field_of(message: str) -> str:
    """Which field an engine validation message is about (they start with the field name)."""
    for name, _, _ in FIELDS:
        if message.startswith(name):
            return name
    return "command"


class EnqueueScreen(DbWork, ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "close", "Cancel"),
        Binding("ctrl+s", "submit", "Enqueue"),
    ]

    def __init__(self, queue: Queue) -> None:
        super().__init__()
        self.queue = queue
        self.touched: set[str] = set()
        self.submitted_once = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="form"):
            yield Label("Enqueue a job", classes="title")
            with VerticalScroll():
                for name, label, placeholder in FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label, classes="field-label")
                        with Vertical(classes="field-input"):
                            yield Input(placeholder=placeholder, id=name, select_on_focus=False, compact=True)
                            yield Label("", id=f"{name}-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Enqueue (ctrl+s)", id="submit", variant="primary")
                yield Button("Cancel (esc)", id="close")
        yield KeyFooter()

    def on_mount(self) -> None:
        for name, _, _ in FIELDS:
            self.query_one(f"#{name}-error", Label).display = False
        self.query_one("#command", Input).focus()

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#{name}", Input).value for name, _, _ in FIELDS}

    def validate(self) -> dict[str, Any] | None:
        """Show each field's problem next to it; return the job if there is none."""
        job, errors = form_to_job(self.values())
        now = self.queue.clock.now()
        for name, value in job.items():  # each field on its own, so every problem shows at once
            if name in errors:
                continue
            try:  # default settings suffice: they only fill in values, never reject one
                job_spec({"command": "true", name: value}, Settings(), now)
            except InvalidInput as exc:
                errors[name] = str(exc)
        if "command" not in job and "command" not in errors:
            errors["command"] = "command must be a non-empty string"
        for name, _, _ in FIELDS:  # a field shows its problem once the user has been there
            self.show_error(name, errors.get(name, "") if name in self.touched or self.submitted_once else "")
        return None if errors else job

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        self.touched.add(event.input.id or "")
        self.validate()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_close()

    def action_submit(self) -> None:
        self.submitted_once = True
        job = self.validate()
        if job is not None:
            self.insert(job)

    def insert(self, job: dict[str, Any]) -> None:
        def insert(queue: Queue) -> tuple[str, bool]:
            existing: dict[int, str] = {}
            return queue.enqueue_many([job], existing=existing)[0], bool(existing)

        self.run_db("insert", insert, exclusive=True, writes=True)

    def on_db_result(self, message: DbResult) -> None:
        error = message.error
        if isinstance(error, InvalidItem):
            self.show_error(field_of(error.reason), error.reason)
        elif isinstance(error, QueueError):  # id taken, database locked: keep the form open
            field = "id" if "already taken" in str(error) else "command"
            self.show_error(field, str(error))
        elif error is None:
            job_id, held = message.result
            if held:  # an unfinished job holds the unique key: that job stands for this one
                self.app.notify(f"Job {job_id} holds that unique key and is not finished: nothing enqueued",
                                markup=False)
            self.dismiss(None if held else job_id)

    def show_error(self, field: str, message: str) -> None:
        label = self.query_one(f"#{field}-error", Label)
        label.update(message)
        label.display = bool(message)
        self.query_one(f"#{field}", Input).set_class(bool(message), "-invalid")

    def action_close(self) -> None:
        self.dismiss(None)
