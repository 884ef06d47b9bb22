"""This host and its processes, as worker ids name them (host:pid:token:index, see Pool)."""

from __future__ import annotations

import os


def this_host() -> str:
    """The host name workers record (what socket.gethostname() gives, without importing socket)."""
    return os.uname().nodename


def process_exists(pid: int) -> bool:
    """Whether a process runs with this pid (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc: kill() said it exists
        return True


def on_this_host(worker_id: str) -> bool:
    """Whether a worker id (host:pid:token:index, see Pool) names a process of this host."""
    parts = worker_id.rsplit(":", 3)
    return len(parts) == 4 and parts[0] == this_host() and parts[1].isdigit()


def worker_gone_from_this_host(worker_id: str) -> bool:
    """Whether a worker id (host:pid:token:index, see Pool) names a process of this host that no
    longer exists. A worker on another host, or whose process lives on, is not judged here."""
    return on_this_host(worker_id) and not process_exists(int(worker_id.rsplit(":", 3)[1]))
