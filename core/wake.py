"""Wake-up signals between processes on one machine, so idle workers need not poll fast.

Every listening process binds a Unix datagram socket in a folder named after the database; a
notifier sends one small datagram to each socket there. Lost or refused datagrams only cost a poll
interval, because workers poll anyway: the signal is an optimisation, never the source of truth.

The folder is this user's alone, and is only used as such. It is made with mode 0700 (whatever the
umask) under the per-user runtime directory ($XDG_RUNTIME_DIR, else /run/user/UID, when that is a
real folder of this user's with mode 0700) or else under the temp folder as queuectl-UID. Every
level is opened without following a symbolic link, and must be a folder owned by this user with no
group or other permission bits; the sockets are reached through that open folder, never by its path
again. Anything else found there (another user's folder, a symlink, a file) turns wake-ups off for
the process with one logged warning, and workers poll. Only sockets of this user named like the
ones listeners make (`PID-HEX.sock`) are ever sent to or removed.
"""

from __future__ import annotations

import abc
import errno
import os
import stat
import _thread

# socket, select, hashlib, logging and threading are imported where they are used: a CLI command
# that only reads (`queuectl status`) never sends or waits for a wake-up, and must start fast.

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PROC_FD = "/proc/self/fd"  # where it exists, a socket is named through its folder's descriptor
_warned = False


class WakeUnavailable(Exception):
    """Wake-ups cannot be used for this database in this process; workers poll instead."""


def warn_once(reason: object) -> None:
    """The one warning a process logs when it cannot use wake-ups."""
    global _warned
    if _warned:
        return
    _warned = True
    import logging

    logging.getLogger("queuectl.wake").warning("wake-ups are off, workers poll instead: %s", reason)


def _digest(db_path: str) -> str:
    try:  # CPython's own SHA-256: loading OpenSSL for hashlib's took a tenth of `queuectl enqueue`
        from _sha256 import sha256  # type: ignore[import-not-found]  # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found, no-redef]  # Python 3.12+
        except ImportError:
            from hashlib import sha256

    return sha256(os.path.realpath(db_path).encode()).hexdigest()[:16]


def runtime_dir() -> str | None:
    """This user's runtime folder, if it is a real folder of this user's with mode 0700."""
    path = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    if not os.path.isabs(path):
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
        return path
    return None


def temp_dir() -> str:
    """The temp folder, as tempfile.gettempdir() picks it, without importing tempfile."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        path = os.environ.get(name)
        if path and os.path.isdir(path):
            return os.path.abspath(path)
    return "/tmp"


def wake_places(db_path: str) -> list[tuple[str, str, str]]:
    """Where the wake-up folder of a database may be, preferred first: (base, our folder, digest)."""
    digest, places = _digest(db_path), []
    runtime = runtime_dir()
    if runtime is not None:
        places.append((runtime, "queuectl", digest))
    places.append((temp_dir(), f"queuectl-{os.getuid()}", digest))
    return places


def wake_dir(db_path: str) -> str:
    """The folder a listener of this database binds its socket in."""
    return os.path.join(*wake_places(db_path)[0])


class Folder:
    """One wake-up folder, held open: the sockets in it are named through its descriptor."""

    def __init__(self, base: str, mine: str, digest: str, create: bool) -> None:
        """Open base/mine/digest, making the two levels if create. Raises FileNotFoundError if a
        level is missing (and not create), WakeUnavailable if something there is not ours."""
        self.path = os.path.join(base, mine, digest)
        base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            mine_fd = _own_dir(base_fd, mine, os.path.join(base, mine), create)
        finally:
            os.close(base_fd)
        try:
            self.fd = _own_dir(mine_fd, digest, self.path, create)
        finally:
            os.close(mine_fd)
        self._proc = os.path.isdir(f"{_PROC_FD}/{self.fd}")

    def address(self, name: str) -> str:
        """A name for bind() and sendto() that does not walk the folder's path again, and stays
        short however long the path is (AF_UNIX addresses hold about 100 bytes)."""
        if self._proc:
            return f"{_PROC_FD}/{self.fd}/{name}"
        return os.path.join(self.path, name)

    def sockets(self) -> list[str]:
        """The names of this user's listener sockets in the folder; anything else is left alone."""
        uid, found = os.geteuid(), []
        for name in os.listdir(self.fd):
            if not socket_name(name):
                continue
            try:
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISSOCK(st.st_mode) and st.st_uid == uid:
                found.append(name)
        return found

    def remove(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except OSError:
            pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def socket_name(name: str) -> bool:
    """Whether a name is one a listener gives its socket: PID-HEX.sock."""
    pid, dash, rest = name.partition("-")
    token = rest[:-5]
    return (dash == "-" and pid.isdigit() and rest.endswith(".sock") and bool(token)
            and all(c in "0123456789abcdef" for c in token))


def _own_dir(parent_fd: int, name: str, path: str, create: bool) -> int:
    """Open a folder that must be this user's: never through a symbolic link, owned by this user.
    Made if missing and create; its mode is made 0700 (no group or other bits) either way."""
    made = False
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
            made = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise WakeUnavailable(f"cannot make {path}: {exc.strerror}") from None
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WakeUnavailable(f"{path} is not a folder (a symbolic link or a file): not used") from None
        raise WakeUnavailable(f"cannot open {path}: {exc.strerror}; it is not this user's folder") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise WakeUnavailable(f"{path} belongs to uid {st.st_uid}, not to this user (uid {os.geteuid()}): not used")
        if made or stat.S_IMODE(st.st_mode) != 0o700:
            # ours: 0700 whatever the umask took away or gave (older versions made the first level
            # with the umask's mode); what others may have put in it meanwhile is never used
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Listener(abc.ABC):
    """Where a process waits for wake-up events; each backend has its own."""

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> list[str]:
        """Block until events arrive or the timeout passes; return them (maybe none)."""

    @abc.abstractmethod
    def close(self) -> None: ...


class PollListener(Listener):
    """No wake-ups: wait() only lets the timeout pass (or returns at close), so workers poll."""

    def __init__(self) -> None:
        import threading

        self._closed = threading.Event()

    def wait(self, timeout: float | None) -> list[str]:
        self._closed.wait(timeout)
        return []

    def close(self) -> None:
        self._closed.set()


class SocketNotifier:
    """Sends wake-ups to the listeners of one database; `db_path` is resolved on first use. A
    folder that is not ours is never used (one warning per process); one that does not exist yet is
    looked for again at the next wake-up."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._missing: list[tuple[str, str, str]] | None = None  # places no listener has made yet
        self._folders: list[Folder] = []
        self._sock = None
        self._lock = _thread.allocate_lock()  # threading's Lock, without importing threading (enqueue)

    def _open(self) -> None:
        """Open the folders that exist now; a missing one is looked for again at the next wake-up."""
        with self._lock:
            self._look()

    def _look(self) -> None:
        if self._missing is None:
            self._missing = wake_places(self.db_path)
        missing = []
        for place in self._missing:
            try:
                self._folders.append(Folder(*place, create=False))
            except FileNotFoundError:  # no listener has been there yet
                missing.append(place)
            except (OSError, WakeUnavailable) as exc:  # not ours: never used
                warn_once(exc)
        self._missing = missing

    def notify(self, event: str) -> None:
        if self._missing is None or self._missing:
            self._open()
        data = event.encode()
        for folder in self._folders:
            try:
                names = folder.sockets()
            except OSError:
                continue
            if not names:
                continue
            if self._sock is None:
                import socket

                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            for name in names:
                try:
                    self._sock.sendto(data, folder.address(name))
                except OSError as exc:
                    if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                        folder.remove(name)  # a socket of ours whose listener is gone
                    # EAGAIN: that listener's buffer is full, it is awake anyway

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for folder in self._folders:
            folder.close()
        self._folders, self._missing = [], None


class SocketListener(Listener):
    """A socket in the database's wake-up folder. Raises WakeUnavailable if it cannot be made."""

    def __init__(self, db_path: str) -> None:
        import socket

        try:
            self._folder = Folder(*wake_places(db_path)[0], create=True)
        except OSError as exc:
            raise WakeUnavailable(f"cannot use the wake-up folder: {exc.strerror or exc}") from None
        self.name = f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        self.path = os.path.join(self._folder.path, self.name)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(self._folder.address(self.name))
        except OSError as exc:
            self._sock.close()
            self._folder.close()
            raise WakeUnavailable(f"cannot make a socket in {self._folder.path}: {exc.strerror or exc}") from None
        self._sock.setblocking(False)

    def wait(self, timeout: float | None) -> list[str]:
        """Block until at least one event arrives or the timeout passes; return the events."""
        import select

        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError):
            return []
        events: list[str] = []
        while ready:
            try:
                events.append(self._sock.recv(256).decode(errors="replace"))
            except BlockingIOError:
                break
            except OSError:
                break
        return events

    def close(self) -> None:
        self._sock.close()
        self._folder.remove(self.name)
        self._folder.close()


def listener_or_poll(make) -> Listener:
    """make() a listener; if wake-ups cannot be set up, log it once and return a PollListener."""
    try:
        return make()
    except Exception as exc:  # wake-ups are an optimisation: never a reason for a worker not to run
        warn_once(exc)
        return PollListener()
