"""What a dead worker's job left running. A job runs in its own session, so when its worker is killed
(SIGKILL, OOM) the job's processes live on, and its retry would run beside them. When the job is
taken back, the worker doing it finds them on this host by the variables every job's processes
inherit (QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT and QUEUECTL_WORKER: the worker id, unique to one pool of
one process, so another database's job with the same id and attempt is never taken for it), among
this user's processes only, and stops their process groups."""

from __future__ import annotations

import os
import threading

from .runner import terminate_group


def job_process_groups(job_id: str, attempt: int, worker: str) -> set[int]:
    """Process groups on this host with a process of this user started for this attempt of this job
    by this worker (read from /proc/PID/environ: the environment a process was started with; empty
    where /proc is missing)."""
    wanted = (b"\0QUEUECTL_JOB_ID=" + job_id.encode() + b"\0", b"\0QUEUECTL_ATTEMPT=%d\0" % attempt,
              b"\0QUEUECTL_WORKER=" + worker.encode() + b"\0")
    try:
        names = os.listdir("/proc")
    except OSError:
        return set()
    groups, uid = set(), os.geteuid()
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:  # another user's process: never ours to stop
                continue
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = b"\0" + f.read()
            if all(mark in environ for mark in wanted):
                groups.add(os.getpgid(int(name)))
        except OSError:  # gone meanwhile, or another user's
            continue
    groups.discard(os.getpgrp())  # never our own group, whatever its environment says
    return {g for g in groups if g > 1}


def stop_job_processes(job_id: str, attempt: int, worker: str) -> set[int]:
    """SIGTERM the process groups of this attempt, SIGKILL them 2 s later (in a thread, so the
    caller does not wait). Returns the groups signalled."""
    groups = job_process_groups(job_id, attempt, worker)
    for group in groups:
        threading.Thread(target=terminate_group, args=(group,), name="queuectl-orphans", daemon=True).start()
    return groups
