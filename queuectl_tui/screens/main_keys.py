"""The main screen's keys: its bindings, their lines in `?` and the command palette, and when
each applies."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from ..widgets.job_table import VIEWS
from .help import Key

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    from .main import MainScreen

TABS = [v.id for v in VIEWS] + ["workers", "queues"]
# The actions whose keys (+ - /) type text in the filter while it has the focus.
TYPED = {"grow", "shrink", "restart_pool", "filter", "queue_pause", "queue_resume", "queue_limit"}
POOL = Binding.Group("Pool")

BINDINGS = [
    Binding("e", "enqueue", "New", id="enqueue"),
    Binding("r", "retry", "Retry", id="retry"),
    Binding("R", "retry_all", "Retry all", key_display="R", id="retry-all"),
    Binding("x", "cancel", "Cancel", id="cancel"),
    Binding("plus", "grow", "Grow", key_display="+", id="grow", group=POOL),
    Binding("minus", "shrink", "Shrink", key_display="-", id="shrink", group=POOL),
    Binding("plus", "restart_pool", "New pool", key_display="+", id="restart-pool"),
    Binding("p", "pause", "Pause", id="pause"),
    Binding("p", "resume", "Resume", id="resume"),
    Binding("c", "settings", "Config", id="settings"),
    Binding("S", "schedules", "Schedules", key_display="S", id="schedules"),
    Binding("P", "queue_pause", "Pause queue", key_display="P", id="queue-pause"),
    Binding("P", "queue_resume", "Resume queue", key_display="P", id="queue-resume"),
    Binding("L", "queue_limit", "Limit", key_display="L", id="queue-limit"),
    Binding("slash", "filter", "Find", key_display="/", id="filter"),
    Binding("escape", "clear_filter", "Clear filter", key_display="esc", id="clear-filter"),
    Binding("tab,right_square_bracket", "next_tab", "Next tab", key_display="tab", id="next-tab"),
    Binding("shift+tab,left_square_bracket", "previous_tab", "Previous tab", show=False, id="previous-tab"),
    Binding("question_mark", "help", "Keys", key_display="?", id="help"),
    Binding("q", "app.quit", "Quit", id="quit"),
    *[Binding(str(n), f"show_tab('{tab}')", show=False) for n, tab in enumerate(TABS, 1)],
]

# Every key, for `?` and the command palette (the entries with an action).
KEYS = (
    Key("tab  shift+tab", "Next / previous tab (also ] and [)", "next_tab", "Tabs", command="Next tab"),
    Key("1", "Pending: jobs waiting to run, and failed ones waiting for their retry",
        "show_tab('pending')", "Tabs", command="Go to the Pending tab"),
    Key("2", "Processing: the jobs running now", "show_tab('processing')", "Tabs",
        command="Go to the Processing tab"),
    Key("3", "Dead: jobs that failed for good (the dead-letter queue)", "show_tab('dead')", "Tabs",
        command="Go to the Dead tab"),
    Key("4", "Completed: jobs that succeeded", "show_tab('completed')", "Tabs", command="Go to the Completed tab"),
    Key("5", "Workers: the live workers of this database", "show_tab('workers')", "Tabs",
        command="Go to the Workers tab"),
    Key("6", "Queues: each queue's jobs, limit and pause", "show_tab('queues')", "Tabs",
        command="Go to the Queues tab"),
    Key("↑ ↓  pgup pgdn", "Move in the table", section="Jobs"),
    Key("home  end", "First / last row", section="Jobs"),
    Key("← →", "Scroll a wide table sideways", section="Jobs"),
    Key("enter", "Open the selected job: its fields, attempts and output", "detail", "Jobs",
        command="Open the selected job"),
    Key("e", "Enqueue a new job", "enqueue", "Jobs"),
    Key("r", "Retry the selected dead job", "retry", "Jobs"),
    Key("R", "Retry all dead jobs (asks first)", "retry_all", "Jobs", command="Retry all dead jobs"),
    Key("x", "Cancel the selected job (asks first)", "cancel", "Jobs", command="Cancel the selected job"),
    Key("/", "Filter every tab by id, command text or queue (enter keeps it, esc clears it)", "filter", "Jobs",
        command="Filter the jobs by id, command text or queue"),
    Key("P", "Pause / resume the selected queue, on every host (Queues tab)", section="Queues"),
    Key("P", "Pause the selected queue", "queue_pause", "Queues", in_help=False),
    Key("P", "Resume the selected queue", "queue_resume", "Queues", in_help=False),
    Key("L", "Set the selected queue's limit: jobs running at once, 0 = none (Queues tab)", "queue_limit",
        "Queues", command="Set the selected queue's limit"),
    Key("+  -", "Grow / shrink the pool by one worker; after `queuectl worker stop`, + starts a new pool",
        section="Pool"),
    Key("p", "Pause / resume the pool (running jobs finish; nothing new is claimed)", section="Pool"),
    Key("+", "Add a worker to the pool", "grow", "Pool", in_help=False),
    Key("-", "Remove a worker from the pool (it finishes its job first)", "shrink", "Pool", in_help=False,
        command="Remove a worker from the pool"),
    Key("+", "Start a new worker pool", "restart_pool", "Pool", in_help=False),
    Key("p", "Pause the pool", "pause", "Pool", in_help=False),
    Key("p", "Resume the pool", "resume", "Pool", in_help=False),
    Key("c", "Edit the settings", "settings", "App"),
    Key("S", "Schedules: next due time and last job of each; p pauses or resumes one", "schedules", "App",
        command="Show the schedules"),
    Key("?", "Show every key", "help", "App"),
    Key("ctrl+p", "The command palette: every action that applies, by name", section="App"),
    Key("q", "Quit: the pool claims nothing more and running jobs finish; q again kills them", section="App"),
)


def applies(screen: MainScreen, action: str) -> bool | None:
    """True: the key applies (footer, palette); None: shown greyed; False: hidden, and the key
    does nothing."""
    if action in TYPED and isinstance(screen.focused, Input):
        return False  # the filter takes these keys as text: they are not the footer's to offer
    job = screen.selected
    counts = screen.snapshot.counts if screen.snapshot else {}
    pools = screen.pools
    running = pools.running
    if action == "clear_filter":
        return bool(screen.search) or isinstance(screen.focused, Input)
    if action == "detail":
        return job is not None
    if action == "retry":
        return job is not None and job.state == "dead"
    if action == "retry_all":
        if counts.get("dead"):
            return True
        return None if screen.active_tab == "dead" else False
    if action == "cancel":
        return job is not None and job.state in ("pending", "failed", "processing")
    if action == "grow":
        return running
    if action == "shrink":
        return (True if pools.size else None) if running else False
    if action == "restart_pool":
        return pools.restartable
    if action == "pause":
        return running and not pools.paused
    if action == "resume":
        return running and pools.paused
    if action in ("queue_pause", "queue_resume", "queue_limit"):
        info = screen.selected_queue
        if info is None:
            return None if screen.active_tab == "queues" and action == "queue_limit" else False
        return action == "queue_limit" or (action == "queue_resume") == info.paused
    return True
