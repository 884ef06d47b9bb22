"""Job detail: every field, the attempt history, and the output of the chosen attempt; a running
attempt's output grows as its worker pushes it (core/live.py), and the page follows its end."""

from __future__ import annotations

import shlex
from typing import Any, Callable

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane

from core.clock import SYSTEM, Clock
from core.errors import QueueError
from core.models import FINISHED, Job, Run
from core.queue import Queue
from core.text import output_tail, text_env

from ..db_work import DbWork, retry_one
from ..messages import DbResult
from ..render import clip, safe, span, stamp
from ..widgets.footer import KeyFooter
from .confirm import ConfirmScreen
from .help import HelpScreen, Key


RUN_COLUMNS = ("#", "TRY", "STARTED (UTC)", "TOOK", "EXIT", "RESULT", "WORKER")
RESULT_LEAST = 16  # cells RESULT keeps on a narrow screen: "exit code 127 (…"
LABEL_WIDTH = 10  # the longest field label ("last error"): values of both field tables start in one column
LIVE_REFRESH = 0.5  # seconds between reads of a running job: its worker pushes output once a second


class DetailScreen(DbWork, Screen):
    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("r", "retry", "Retry", id="retry"),
        Binding("x", "cancel", "Cancel", id="cancel"),
        Binding("o", "toggle_output", "stdout/stderr", id="toggle-output"),
        Binding("pagedown", "scroll_body(1)", "Scroll", key_display="pgdn", priority=True),
        Binding("pageup", "scroll_body(-1)", "Scroll up", show=False, priority=True),
        # The attempts table has the focus; these reach the output wherever the focus is.
        Binding("end,ctrl+end", "scroll_end", "End", key_display="end", priority=True, id="scroll-end"),
        Binding("home,ctrl+home", "scroll_home", "Top", show=False, priority=True),
        Binding("question_mark", "help", "Keys", key_display="?"),
    ]
    FOOTER_SPARE = ("scroll-end", "toggle-output")

    KEYS = (
        Key("esc  q", "Back to the tables", section="Job"),
        Key("r", "Retry this dead job", "retry", "Job", command="Retry this job"),
        Key("x", "Cancel this job (asks first)", "cancel", "Job", command="Cancel this job"),
        Key("↑ ↓", "Choose the attempt whose output is shown", section="Output"),
        Key("o", "Switch between stdout and stderr", "toggle_output", "Output"),
        Key("pgdn  pgup", "Scroll the page", section="Output"),
        Key("end  ctrl+end", "Go to the end of the output", "scroll_end", "Output"),
        Key("home  ctrl+home", "Go to the top of the page", "scroll_home", "Output"),
        Key("?", "Show every key", "help", "App"),
        Key("ctrl+p", "The command palette", section="App"),
    )

    def __init__(self, job_id: str, queue: Queue, clock: Clock = SYSTEM, refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.job_id = job_id
        self.queue = queue
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.job: Job | None = None
        self.run_number: int | None = None  # the attempt whose output is shown; None = the latest
        self.followed = False  # a running attempt's output was shown: later growth follows the end if at it
        self.runs_cut: dict[str, tuple[bool, bool]] = {}  # attempt number: (RESULT cut, WORKER cut)

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static(id="fields")
            yield Label("Attempts", classes="section")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            yield Label("Output", id="output-title", classes="section", markup=False)
            with TabbedContent(id="output"):
                with TabPane("stdout", id="stdout"):
                    yield Static(id="stdout-text", classes="output", markup=False)
                with TabPane("stderr", id="stderr"):
                    yield Static(id="stderr-text", classes="output", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(self.refresh_interval, self.reload_if_live)
        self.set_interval(min(self.refresh_interval, LIVE_REFRESH), self.reload_if_running)
        self.query_one("#runs", DataTable).focus()

    def reload_if_live(self) -> None:
        if self.job is None or self.job.state not in FINISHED:
            self.load()

    def reload_if_running(self) -> None:
        if self.job is not None and self.job.state == "processing":
            self.load()

    def load(self) -> None:
        job_id = self.job_id
        self.run_db("load", lambda queue: queue.job(job_id, live=True), exclusive=True)

    def on_db_result(self, message: DbResult) -> None:
        error = message.error
        if error is not None:
            if isinstance(error, QueueError):
                self.notify(str(error), severity="error", markup=False)
        elif message.tag == "load":
            self.show(message.result)
        else:  # retry or cancel: say so, then show the job as it is now
            self.notify(message.result, markup=False)
            self.load()

    def act(self, tag: str, action: Callable[[Queue], Any], success: str) -> None:
        """A key's database action; its answer is the notification's text."""
        def run(queue: Queue) -> str:
            return success + (" (killing its process group)" if action(queue) == "requested" else "")

        self.run_db(tag, run, writes=True)

    def on_resize(self) -> None:
        if self.job is not None:
            self.show(self.job, redraw=True)  # the attempts table fits the new width

    def show(self, job: Job, redraw: bool = False) -> None:
        changed = redraw or self.job is None or job != self.job or len(job.runs) != len(self.job.runs)
        self.job = job
        self.sub_title = job.id
        if not changed:
            return
        title = Text.assemble(("Job ", "bold"), safe(job.id, style="bold"), "  ", (job.state, "bold reverse"))
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#detail-title").set_classes(f"state-{job.state}")
        self.query_one("#fields", Static).update(self.fields(job))
        runs = self.query_one("#runs", DataTable)
        cursor = runs.cursor_row
        rows, widths = self.fit_runs([
            (Text(str(run.number)), Text(str(run.attempt)), Text(stamp(run.started_at, zone=False)),
             Text(span(self.clock.now() - (run.started_at or 0) if run.running else run.duration)),
             Text("-" if run.exit_code is None else str(run.exit_code)), self.result(run), safe(run.worker))
            for run in job.runs
        ])
        # Columns get explicit widths from the rows: auto-sized ones are widened after the header
        # was drawn, and for a moment the header stood narrower than its rows.
        runs.clear(columns=True)
        for label, width in zip(RUN_COLUMNS, widths):
            runs.add_column(label, width=width)
        for run, row in zip(job.runs, rows):
            runs.add_row(*row, key=str(run.number))
        if job.runs:
            runs.move_cursor(row=cursor if 0 < cursor < len(job.runs) else len(job.runs) - 1, animate=False)
        self.show_output()
        self.refresh_bindings()

    def fit_runs(self, rows: list[tuple[Text, ...]]) -> tuple[list[tuple[Text, ...]], list[int]]:
        """The attempts' rows and column widths for this screen: where they would pass its right edge,
        RESULT gives up cells (down to RESULT_LEAST), then WORKER (a long host name's end), each cut
        with an ellipsis. The chosen attempt's whole values show above its output."""
        widths = [max([len(label), *(row[index].cell_len for row in rows)]) for index, label in enumerate(RUN_COLUMNS)]
        # each column has 2 cells of padding; the page 2 of margin and 2 for its scrollbar when it scrolls
        over = sum(width + 2 for width in widths) + 4 - self.size.width
        for index, least in ((-2, RESULT_LEAST), (-1, len(RUN_COLUMNS[-1]))):
            give = max(0, min(over, widths[index] - least))
            widths[index] -= give
            over -= give
        self.runs_cut = {row[0].plain: (row[-2].cell_len > widths[-2], row[-1].cell_len > widths[-1]) for row in rows}
        return [(*row[:-2], clip(row[-2], widths[-2]), clip(row[-1], widths[-1])) for row in rows], widths

    def whole_cells(self, run: Run) -> list[str | Text]:
        """The attempt's RESULT and WORKER cells that were cut to fit the screen, whole, a line each."""
        result_cut, worker_cut = self.runs_cut.get(str(run.number), (False, False))
        return [*(("\nresult ", self.result(run)) if result_cut else ()),
                *(("\nworker ", safe(run.worker)) if worker_cut else ())]

    @staticmethod
    def result(run: Run) -> Text:
        if run.running:
            return Text("running", style="bold")
        return Text("ok", style="bold") if run.error is None else safe(run.error)

    def fields(self, job: Job) -> Table:
        """Two fields a line, so the output still fits on an 80x24 terminal."""
        now = self.clock.now()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        grid.add_column(overflow="fold")  # a 64-letter queue name folds, shown whole
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        timeout = f"{job.timeout:g}s" if job.timeout else "config job-timeout"
        state = job.state + (f" (retry {'now' if job.run_at <= now else 'in ' + span(job.run_at - now)})"
                             if job.state == "failed" else "")
        pairs = [
            ("state", Text(state), "attempts", Text(f"{job.attempts} of at most {job.max_retries + 1}")),
            ("queue", safe(job.queue), "priority", Text(str(job.priority))),
            ("exit code", Text("-" if job.exit_code is None else str(job.exit_code)), "timeout", Text(timeout)),
            ("created", Text(stamp(job.created_at)), "run at", Text(stamp(job.run_at))),
            ("started", Text(stamp(job.started_at)), "finished", Text(stamp(job.finished_at))),
        ]
        for row in pairs:
            grid.add_row(*row)
        whole = Table.grid(padding=(0, 2))  # long values get a line of their own, folded: never cut
        whole.add_column(style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        whole.add_column(overflow="fold")
        whole.add_row("command", safe(job.command, one_line=False))
        whole.add_row("last error", safe(job.last_error or "-"))
        whole.add_row("worker", safe(job.worker or "-"))
        # the rest only for jobs that have them: an 80x24 screen keeps its room for the output
        if job.cwd:
            whole.add_row("directory", safe(job.cwd))
        if job.env:  # as the enqueue form takes them: NAME=value, shell-quoted; else as the database has it
            env = text_env(job.env)
            whole.add_row("env", safe(repr(job.env) if env is None else
                                      " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())))
        if job.after:
            waits = f"  (waiting on {' '.join(job.waiting_on)})" if job.waiting_on and job.state == "pending" else ""
            whole.add_row("after", safe(" ".join(job.after) + waits))
        if job.needed_by:
            whole.add_row("needed by", safe(" ".join(job.needed_by)))
        for name, value in (("unique key", job.unique_key), ("schedule", job.schedule)):
            if value:
                whole.add_row(name, safe(value))
        outer = Table.grid()
        outer.add_row(whole)
        outer.add_row(grid)
        return outer

    @on(DataTable.RowHighlighted, "#runs")
    def run_chosen(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.run_number = int(event.row_key.value)
            self.show_output()

    def show_output(self) -> None:
        job = self.job
        if job is None:
            return
        runs = {r.number: r for r in job.runs}
        run = runs.get(self.run_number or 0) or (job.runs[-1] if job.runs else None)
        title = self.query_one("#output-title", Label)
        if run is None:
            title.update("Output: no attempt yet" + (" (running now)" if job.state == "processing" else ""))
            for name in ("stdout", "stderr"):
                self.query_one(f"#{name}-text", Static).update("")
            return
        title.update(Text.assemble(
            f"Output of attempt #{run.number}", " (running: shown as it is written)" if run.running else "",
            *self.whole_cells(run)))
        if not run.stdout and run.stderr:  # open the stream that has something to read
            self.query_one("#output", TabbedContent).active = "stderr"
        body = self.query_one("#detail-body", VerticalScroll)
        # like `tail -f` in a pager: a running attempt's output is followed from its first showing on,
        # as long as the page stays at its end; scrolled up, it stays where the user put it
        follow = (run.running and not self.followed) or (self.followed and body.scroll_y >= body.max_scroll_y)
        self.followed = self.followed or run.running
        for name, data, dropped in (("stdout", run.stdout, run.stdout_dropped),
                                    ("stderr", run.stderr, run.stderr_dropped)):
            marker, shown = output_tail(data, dropped)  # what output-limit did not keep, as the CLI says it
            text = safe(shown.decode("utf-8", "replace"), one_line=False) if data else Text("(empty)", style="dim")
            if marker:
                text = Text.assemble(Text(marker + "\n", style="dim"), text)
            self.query_one(f"#{name}-text", Static).update(text)
            self.query_one("#output", TabbedContent).get_tab(name).label = f"{name} {len(data):,} B"
        if follow:  # once the new text is laid out; not if the user scrolled meanwhile
            at = body.scroll_y
            self.call_after_refresh(lambda: body.scroll_y == at and body.scroll_end(animate=False))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return self.job is not None and self.job.state == "dead"
        if action == "cancel":
            return self.job is not None and self.job.state not in FINISHED
        return True

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_scroll_body(self, pages: int) -> None:
        body = self.query_one("#detail-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + pages * max(1, body.size.height - 2), animate=False)

    def action_scroll_end(self) -> None:
        self.query_one("#detail-body", VerticalScroll).scroll_end(animate=False)

    def action_scroll_home(self) -> None:
        self.query_one("#detail-body", VerticalScroll).scroll_home(animate=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS, "Keys of the job detail (esc closes)"))

    def action_toggle_output(self) -> None:
        tabs = self.query_one("#output", TabbedContent)
        tabs.active = "stderr" if tabs.active == "stdout" else "stdout"

    def action_retry(self) -> None:
        if self.job is not None and self.job.state == "dead":
            self.act("retry", lambda q: retry_one(q, self.job_id), f"Retrying {self.job_id}")

    def action_cancel(self) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self.act("cancel", lambda q: q.cancel(self.job_id), f"Cancelled {self.job_id}")

        self.app.push_screen(ConfirmScreen(f"Cancel job {self.job_id}?", "The job goes to dead.", "Cancel job",
                                           danger=True), confirmed)
