"""The commands that look after the queue rather than its jobs: dlq, config, prune, queue, metrics, schedule."""

from __future__ import annotations

import sys

from core.clock import to_iso
from core.errors import InvalidInput
from core.models import SETTINGS, setting_text
from core.text import visible
from core.validate import parse_json

from .output import EXIT_FAILED, EXIT_OK, out, print_jobs, print_json, print_queues, table
from .parser import check_limit

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see core/record.py)
if TYPE_CHECKING:
    import argparse

    from core.queue import Queue


def cmd_dlq(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        print_jobs(q.jobs("dead", check_limit(args.limit), order="finished"), args.json)
        return EXIT_OK
    if args.all == bool(args.ids):
        raise InvalidInput("give job ids or --all, not both and not neither")
    moved = q.retry_dead(None if args.all else args.ids)
    out(f"retried {len(moved)} job(s)")
    left = [] if args.all else [job_id for job_id in dict.fromkeys(args.ids) if job_id not in moved]
    for job_id in left:
        print(f"error: {visible(q.why_still_dead(job_id), keep_newlines=False)}", file=sys.stderr)
    return EXIT_FAILED if left else EXIT_OK


def cmd_config(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        config = q.config()
        if args.json:
            print_json(config)
        else:
            table(["KEY", "VALUE", "MEANING"], [[k, visible(setting_text(v), keep_newlines=False), SETTINGS[k].help]
                                                for k, v in config.items()])
    elif args.action == "get":  # a hook's text as written, but ESC and the like made visible
        out(visible(setting_text(q.get_setting(args.key))))
    else:
        out(f"{args.key} = {visible(setting_text(q.set_setting(args.key, args.value)))}")
    return EXIT_OK


def cmd_prune(q: Queue, args: argparse.Namespace) -> int:
    states = list(dict.fromkeys(args.state))
    deleted = q.prune(states, args.older_than)
    out(f"deleted {deleted} {' or '.join(states)} job(s)")
    return EXIT_OK


def cmd_queue(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "list":
        queues = q.queues()
        if args.json:
            print_json([info.to_dict() for info in queues])
        elif not queues:
            print("no queues (a queue exists once it has a job, a limit or a pause)", file=sys.stderr)
        else:
            print_queues(queues)
    elif args.action == "limit":
        limit = q.set_queue_limit(args.name, args.limit)
        out(f"queue {args.name}: " + (f"at most {limit} processing at once" if limit else "no limit"))
    else:
        q.pause_queue(args.name, args.action == "pause")
        out(f"queue {args.name}: {'paused' if args.action == 'pause' else 'resumed'}")
    return EXIT_OK


def cmd_metrics(q: Queue, args: argparse.Namespace) -> int:
    from queuectl_tui import metrics

    if args.serve is None:
        sys.stdout.buffer.write(metrics.exposition(q))
    else:
        metrics.serve(q, args.serve)
    return EXIT_OK


def cmd_schedule(q: Queue, args: argparse.Namespace) -> int:
    if args.action == "add":
        from .enqueue import with_absolute_cwd

        found = q.add_schedule(args.name, args.cron, with_absolute_cwd(parse_json(args.job)), args.tz)
        out(f"{visible(found.name)}: next due {to_iso(found.next_due)}")
    elif args.action == "list":
        found = q.schedules()
        if args.json:
            print_json([s.to_dict() for s in found])
        else:
            table(["NAME", "CRON", "ZONE", "NEXT DUE (UTC)", "LAST DUE", "LAST JOB", "STATE", "PAUSED"],
                  [[visible(s.name), visible(s.cron), visible(s.tz), to_iso(s.next_due) or "", to_iso(s.last_due) or "-",
                    visible(s.last_job or "-"), s.last_state or "-", "yes" if s.paused else "no"] for s in found])
    elif args.action == "rm":
        q.remove_schedule(args.name)
        out(f"removed schedule {visible(args.name)}")
    else:
        q.pause_schedule(args.name, args.action == "pause")
        out(f"{'paused' if args.action == 'pause' else 'resumed'} schedule {visible(args.name)}")
    return EXIT_OK
