"""This host and its processes, as worker ids name them (host:pid:token:index, see Pool)."""

from __future__ import annotations

import os

_PLACE: list[str] = []  # place_tag(), computed once


def this_host() -> str:
    """The host name workers record (what socket.gethostname() gives, without importing socket)."""
    return os.uname().nodename


def place_tag() -> str:
    """4 hex digits for this boot of this machine and this pid namespace: the first half of a pool's
    token. Two containers sharing a host name, or two machines with the same one, see each other's
    pids as gone; a worker id whose tag differs is not judged by this host's pids (1 in 65,536
    pairs of places look alike, and are then judged as before)."""
    if not _PLACE:
        import zlib

        seen = os.uname().nodename.encode()
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as f:
                seen += f.read()
            seen += str(os.stat("/proc/self/ns/pid").st_ino).encode()
        except OSError:  # no /proc: the host name alone
            pass
        _PLACE.append(format(zlib.crc32(seen) & 0xFFFF, "04x"))
    return _PLACE[0]


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
    """Whether a worker id (host:pid:token:index, see Pool) names a process of this host, in this
    pid namespace (the token starts with place_tag()). A token of 6 digits is of a version before
    the tag: judged by the host name alone, as it was then (its job must not wait for two sightings
    while its dead worker's processes run on)."""
    parts = worker_id.rsplit(":", 3)
    if len(parts) != 4 or parts[0] != this_host() or not parts[1].isdigit():
        return False
    token = parts[2]
    return len(token) == 6 or (len(token) == 10 and token[:4] == place_tag())


def worker_gone_from_this_host(worker_id: str) -> bool:
    """Whether a worker id (host:pid:token:index, see Pool) names a process of this host that no
    longer exists. A worker on another host, or whose process lives on, is not judged here."""
    return on_this_host(worker_id) and not process_exists(int(worker_id.rsplit(":", 3)[1]))
