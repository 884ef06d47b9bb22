"""The screens worth a picture, each as (name, size, keys and set-up). The snapshot tests and
scripts/export_screenshots.py both use these, so the README shows exactly what is tested."""

from __future__ import annotations

from textual.widgets import Input

from .fixtures import settle, until


async def no_blink(pilot) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def main_screen(pilot) -> None:
    await settle(pilot)


async def enqueue_form(pilot) -> None:
    await settle(pilot)
    await pilot.press("e", *"rsync -a ~/photos nas:/backup/", "tab", *"photos backup", "tab", *"two")
    await no_blink(pilot)


async def detail_loaded(pilot) -> None:
    """The detail screen loads its job in a thread after it mounts: wait for the rows themselves."""
    for _ in range(500):
        screen = pilot.app.screen
        if getattr(screen, "job", None) is not None:
            if screen.query_one("#runs").row_count == len(screen.job.runs):
                break
        await pilot.pause(0.01)
    await settle(pilot)
    await pilot.pause()


async def job_detail(pilot) -> None:
    await settle(pilot)
    pilot.app.screen.action_show_tab("dead")
    await settle(pilot)
    await pilot.press("down", "down", "enter")
    await detail_loaded(pilot)


async def settings_screen(pilot) -> None:
    await settle(pilot)
    await pilot.press("c")
    await settle(pilot)
    await no_blink(pilot)


async def dead_confirm(pilot) -> None:
    await settle(pilot)
    pilot.app.screen.action_show_tab("dead")
    await settle(pilot)
    await pilot.press("R")
    await pilot.pause()


async def hostile_detail(pilot) -> None:
    await settle(pilot)
    pilot.app.screen.action_show_tab("dead")
    await settle(pilot)
    await pilot.press("down", "enter")
    await detail_loaded(pilot)


async def help_screen(pilot) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


async def pool_stopped(pilot) -> None:
    """What `queuectl worker stop` from another process does to the app (here: the pool's own stop)."""
    await settle(pilot)
    pilot.app.pools.pool.stop()
    for _ in range(200):
        if pilot.app.pools.stopped:
            break
        await pilot.pause(0.05)
    await settle(pilot)


async def queues_tab(pilot) -> None:
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    # DataTable measures new cells when idle: under load a picture could come first, columns unsized
    queues = pilot.app.screen.query_one("#queues-table")
    await until(pilot, lambda: queues.columns["name"].content_width >= max(map(len, queues.queues), default=0))


async def queue_limit(pilot) -> None:
    await queues_tab(pilot)
    await pilot.press("down", "L", "backspace", "x")
    await no_blink(pilot)


SMALL = (80, 24)  # the smallest terminal the app is made for: every screen is checked there

SCENES = {
    "main": ((120, 30), main_screen),
    "enqueue": ((120, 30), enqueue_form),
    "detail": ((120, 36), job_detail),
    "settings": ((120, 36), settings_screen),
    "dead-confirm": ((120, 30), dead_confirm),
    "hostile-detail": ((120, 36), hostile_detail),
    "main-200x50": ((200, 50), main_screen),
    "main-80x24": (SMALL, main_screen),
    "enqueue-80x24": (SMALL, enqueue_form),
    "detail-80x24": (SMALL, job_detail),
    "settings-80x24": (SMALL, settings_screen),
    "dead-confirm-80x24": (SMALL, dead_confirm),
    "help-80x24": (SMALL, help_screen),
    "pool-stopped-80x24": (SMALL, pool_stopped),
    "queues": ((120, 30), queues_tab),
    "queues-80x24": (SMALL, queues_tab),
    "queue-limit-80x24": (SMALL, queue_limit),
}
