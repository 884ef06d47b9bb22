"""The main screen: live tables of jobs by state, the workers, queue figures and the keys."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label, TabbedContent, TabPane

from core.clock import SYSTEM, Clock
from core.errors import QueueError
from core.models import Job, QueueInfo
from core.queue import Queue

from ..db_work import DbWork, retry_all, retry_one
from ..messages import DbResult, PoolChanged, Snapshot
from ..pool_control import PoolControl
from ..render import safe
from ..widgets.footer import KeyFooter
from ..widgets.job_table import VIEW_BY_ID, VIEWS, JobTable, When
from ..widgets.queue_table import QueueTable
from ..widgets.stats import StatsStrip
from ..widgets.worker_table import WorkerTable
from . import main_keys
from .confirm import ConfirmScreen
from .detail import DetailScreen
from .enqueue import EnqueueScreen
from .help import HelpScreen
from .main_keys import TABS
from .queue_limit import LimitScreen
from .schedules import SchedulesScreen
from .settings import SettingsScreen


class FilterInput(Input):
    """The filter: while it has the focus, the footer says what enter and esc do here."""

    BINDINGS = [
        Binding("enter", "submit", "Keep filter", key_display="⏎"),
        Binding("escape", "screen.clear_filter", "Clear filter", key_display="esc"),
    ]


class MainScreen(DbWork, Screen):
    BINDINGS = main_keys.BINDINGS
    KEYS = main_keys.KEYS  # every key, for `?` and the command palette

    def __init__(self, queue: Queue, pools: PoolControl, clock: Clock = SYSTEM, refresh_interval: float = 1.0,
                 row_limit: int = 200) -> None:
        super().__init__()
        self.queue = queue
        self.pools = pools
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.row_limit = row_limit
        self.search = ""
        self.snapshot: Snapshot | None = None
        self._last_error = ""
        self.requests: dict[str, tuple[str, bool]] = {}  # tag of a key's database action: what to say
        self._requests = 0

    @property
    def FOOTER_SPARE(self) -> tuple[str, ...]:  # noqa: N802 - read by KeyFooter: dropped first when narrow
        if self.active_tab == "dead":
            return ("schedules", "filter", "settings", "next-tab", "retry-all", "shrink", "grow")
        return ("schedules", "filter", "retry-all", "settings", "next-tab", "shrink", "grow")

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield StatsStrip(id="stats")
        with TabbedContent(id="tabs", initial="pending"):
            for view in VIEWS:
                with TabPane(view.title, id=view.id):
                    yield Label("", id=f"{view.id}-window", classes="window", markup=False)
                    yield JobTable(view, id=f"{view.id}-table")
            with TabPane("Workers", id="workers"):
                yield Label("", id="workers-window", classes="window", markup=False)
                yield WorkerTable(id="workers-table")
            with TabPane("Queues", id="queues"):
                yield Label("", id="queues-window", classes="window", markup=False)
                yield QueueTable(id="queues-table")
        with Vertical(id="filter-bar", classes="hidden"):
            yield FilterInput(placeholder="filter by id, command or queue; enter to keep, esc to clear", id="filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(self.refresh_interval, self.refresh_data)
        self.refresh_data()
        self.focus_table()

    # data ------------------------------------------------------------------------------------------
    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "pending"

    @property
    def active_table(self) -> JobTable | None:
        tab = self.active_tab
        return self.query_one(f"#{tab}-table", JobTable) if tab in VIEW_BY_ID else None

    @property
    def selected(self) -> Job | None:
        table = self.active_table
        return table.selected if table is not None else None

    def refresh_data(self) -> None:
        """Read what the visible tab shows, off the UI thread; on_db_result shows it."""
        tab, search, clock, row_limit = self.active_tab, self.search, self.clock, self.row_limit

        def read(queue: Queue) -> Snapshot:
            now = clock.now()
            figures = queue.figures(by_queue=tab == "queues")  # as status and the metrics compute them
            counts = figures.counts
            view = VIEW_BY_ID.get(tab)
            jobs: list[Job] = []
            total = 0
            queues = figures.queues
            if view is not None:
                jobs = queue.jobs(view.states, row_limit, search, view.order)
                total = queue.count(view.states, search) if search else sum(counts[s] for s in view.states)
                if tab == "pending" and jobs:  # which of them a paused or full queue holds back
                    queues = queue.queues()
            return Snapshot(now, counts, queue.completed_per_minute(), figures.workers, tab, jobs, total, queues)

        self.run_db("refresh", read, exclusive=True)

    def on_db_result(self, message: DbResult) -> None:
        if message.tag == "refresh":
            if message.ok:
                self.show_snapshot(message.result)
            else:  # the database may be locked, deleted or full: say so, keep going
                self.refresh_failed(str(message.error) or type(message.error).__name__)
            return
        # An action of a key (retry, cancel): say how it went, then show its effect.
        error, success, count = message.error, *self.requests.pop(message.tag, ("", False))
        if error is not None:
            if isinstance(error, QueueError):
                self.notify(str(error), severity="error", markup=False)
            return
        result = message.result
        text = f"{success}: {len(result)} job(s)" if count else success
        if result == "requested":
            text += " (killing its process group)"
        self.notify(text, markup=False)
        self.refresh_data()

    def act(self, action: Callable[[Queue], Any], success: str, count: bool = False) -> None:
        """A key's database action: its result is notified (`success`, with the number of jobs if
        `count`), then the tables refresh."""
        self._requests += 1
        tag = f"action-{self._requests}"
        self.requests[tag] = (success, count)
        self.run_db(tag, action, writes=True)

    def on_pool_changed(self, _: PoolChanged) -> None:
        self.show_stats()
        self.refresh_bindings()

    def show_snapshot(self, snap: Snapshot) -> None:
        had_dead = bool(self.snapshot and self.snapshot.counts.get("dead"))
        self.snapshot = snap
        self._last_error = ""
        self.show_stats()
        tabs = self.query_one(TabbedContent)
        labels = {view.id: f"{view.title} {sum(snap.counts[s] for s in view.states):,}" for view in VIEWS}
        labels["workers"] = f"Workers {len(snap.workers)}"
        if snap.view == "queues":
            labels["queues"] = f"Queues {len(snap.queues)}"
        for tab_id, label in labels.items():
            tab = tabs.get_tab(tab_id)
            if tab.label_text != label:  # relabelling re-lays the tabs out: only on change
                tab.label = label
        if snap.view != self.active_tab:
            return  # the user switched tabs meanwhile; the next refresh is for the new one
        keys_for = self.keys_for()
        with self.app.batch_update():
            if snap.view == "workers":
                self.show_workers(snap)
            elif snap.view == "queues":
                self.show_queues(snap)
            else:
                held = {info.name: info.held for info in snap.queues if info.held}
                self.query_one(f"#{snap.view}-table", JobTable).show(snap.jobs, When(snap.now, held))
                self.query_one(f"#{snap.view}-window", Label).update(self.window_text(snap))
        # The footer is rebuilt on refresh_bindings(), so only when what it offers may have changed:
        # "retry all" with dead jobs or none; Open, retry and cancel when the table went empty (or no
        # longer is) or the selected job changed under the cursor (a row left, a job went dead)
        if had_dead != bool(snap.counts.get("dead")) or keys_for != self.keys_for():
            self.refresh_bindings()

    def keys_for(self) -> tuple[str, str] | None:
        """What the job keys of the footer depend on: the selected job and its state."""
        job = self.selected
        return None if job is None else (job.id, job.state)

    def show_stats(self) -> None:
        if self.snapshot is not None:
            self.query_one(StatsStrip).show(self.snapshot, self.pools.line(), self.pools.worker_ids(),
                                            self.app.theme_variables)

    def window_text(self, snap: Snapshot) -> Text:
        view = VIEW_BY_ID[snap.view]
        text = Text()
        if not snap.jobs:
            text.append("matches nothing" if self.search else view.empty)
        else:
            shown = len(snap.jobs)
            text.append(f"showing {shown:,} of {snap.total:,}" if shown < snap.total
                        else f"{shown:,} job" + ("s" if shown > 1 else ""))
            text.append({"claim": ", next to run first", "started": ", latest started first",
                         "finished": ", latest finished first", "created": ", newest first"}[view.order])
        if self.search:
            text.append("  filter: ")
            text.append_text(safe(self.search, style="bold"))
        return text

    def show_workers(self, snap: Snapshot) -> None:
        self.query_one(WorkerTable).show(snap.workers, snap.now, self.pools.worker_ids())
        idle = sum(1 for w in snap.workers if not w.job_id)
        self.query_one("#workers-window", Label).update(
            f"{len(snap.workers)} live worker(s) on this database, {idle} idle" if snap.workers
            else "No live workers. Press + to start one here, or run `queuectl worker start`.")

    def show_queues(self, snap: Snapshot) -> None:
        self.query_one("#queues-table", QueueTable).show(snap.queues)
        self.query_one("#queues-window", Label).update(
            f"{len(snap.queues)} queue(s): P pauses or resumes the selected one, L sets its limit" if snap.queues
            else "No queues yet: a queue exists once it has a job, a limit or a pause.")
        self.refresh_bindings()

    @property
    def selected_queue(self) -> QueueInfo | None:
        return self.query_one("#queues-table", QueueTable).selected if self.active_tab == "queues" else None

    def refresh_failed(self, error: str) -> None:
        if error != self._last_error:  # say it once, not every second
            self._last_error = error
            self.notify(error, title="Database error", severity="error", markup=False, timeout=8)

    @on(TabbedContent.TabActivated)
    def tab_changed(self) -> None:
        self.refresh_data()
        self.refresh_bindings()
        self.call_after_refresh(self.focus_table)

    def focus_table(self) -> None:
        table = self.active_table or self.query_one(f"#{self.active_tab}-table", DataTable)
        table.focus()

    @on(DataTable.RowHighlighted)
    def row_moved(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def row_chosen(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, JobTable):
            self.action_detail()

    # keys ------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Whether a key applies now (footer, palette, the key itself): main_keys says, beside the keys."""
        return main_keys.applies(self, action)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_next_tab(self) -> None:
        self.action_show_tab(TABS[(TABS.index(self.active_tab) + 1) % len(TABS)])

    def action_previous_tab(self) -> None:
        self.action_show_tab(TABS[(TABS.index(self.active_tab) - 1) % len(TABS)])

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS, "Keys of the main screen (esc closes)"))

    def action_enqueue(self) -> None:
        def done(job_id: str | None) -> None:
            if job_id:
                self.notify(f"Enqueued {job_id}", markup=False)
                self.refresh_data()

        self.app.push_screen(EnqueueScreen(self.queue), done)

    def action_detail(self) -> None:
        job = self.selected
        if job is not None:
            self.app.push_screen(DetailScreen(job.id, self.queue, self.clock, self.refresh_interval))

    def action_retry(self) -> None:
        job = self.selected
        if job is not None and job.state == "dead":
            self.act(lambda q: retry_one(q, job.id), f"Retrying {job.id}")

    def action_retry_all(self) -> None:
        dead = (self.snapshot.counts.get("dead", 0) if self.snapshot else 0)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.act(retry_all, "Retrying every dead job", count=True)

        self.app.push_screen(ConfirmScreen(f"Retry all {dead:,} dead job(s)?",
                                           "Each goes back to pending with its attempts reset.", "Retry all"),
                             confirmed)

    def action_cancel(self) -> None:
        job = self.selected
        if job is None:
            return
        running = job.state == "processing"
        detail = ("Its process group is killed now." if running else "It will not run.") + " The job goes to dead."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.act(lambda q: q.cancel(job.id), f"Cancelled {job.id}")

        self.app.push_screen(ConfirmScreen(f"Cancel job {job.id}?", detail, "Cancel job", danger=True), confirmed)

    def action_settings(self) -> None:
        def saved(changed: list[str] | None) -> None:
            if changed:
                self.notify("Saved " + ", ".join(changed), markup=False)

        self.app.push_screen(SettingsScreen(self.queue), saved)

    def action_schedules(self) -> None:
        self.app.push_screen(SchedulesScreen(self.queue, self.clock, self.refresh_interval))

    def action_grow(self) -> None:
        self.pools.resize(+1)

    def action_restart_pool(self) -> None:
        self.pools.resize(+1)

    def action_shrink(self) -> None:
        self.pools.resize(-1)

    def action_pause(self) -> None:
        self.pools.toggle_pause()

    def action_resume(self) -> None:
        self.pools.toggle_pause()

    def action_queue_pause(self) -> None:
        info = self.selected_queue
        if info is not None:
            self.act(lambda q: q.pause_queue(info.name), f"Paused queue {info.name}: running jobs finish")

    def action_queue_resume(self) -> None:
        info = self.selected_queue
        if info is not None:
            self.act(lambda q: q.resume_queue(info.name), f"Resumed queue {info.name}")

    def action_queue_limit(self) -> None:
        info = self.selected_queue
        if info is None:
            return

        def chosen(limit: int | None) -> None:
            if limit is not None:
                said = f"at most {limit} running at once" if limit else "no limit"
                self.act(lambda q: q.set_queue_limit(info.name, limit), f"Queue {info.name}: {said}")

        self.app.push_screen(LimitScreen(info), chosen)

    def action_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.remove_class("hidden")
        self.query_one("#filter", Input).focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.refresh_data()
        self.refresh_bindings()

    @on(Input.Submitted, "#filter")
    def filter_kept(self) -> None:
        if not self.search:
            self.query_one("#filter-bar").add_class("hidden")
        self.focus_table()

    def action_clear_filter(self) -> None:
        if self.query_one("#filter", Input).has_focus or self.search:
            self.query_one("#filter", Input).value = ""
            self.search = ""
            self.query_one("#filter-bar").add_class("hidden")
            self.refresh_data()
            self.focus_table()
            self.refresh_bindings()
