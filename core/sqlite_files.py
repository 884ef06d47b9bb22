"""SQLite database files: which ones queuectl may open and how, before SQLite touches anything.

A database file (and its -wal, -shm) must be this user's, in a folder only this user or root can
change (or a sticky one like /tmp), and not writable by others: whoever can write them can run
commands as the workers' user. SQLiteStore takes these checks as a mixin.
"""

from __future__ import annotations

import os
import stat

from .errors import StorageError


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _make_folders(folder: str) -> None:
    """The default location's folders: each one missing made 0700, whatever the umask."""
    missing = []
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    for name in reversed(missing):
        try:
            os.mkdir(name, 0o700)
        except FileExistsError:
            continue
        os.chmod(name, 0o700)


def _check_folder(path: str, folder: str, uid: int) -> bool:
    """The folder must be this user's or root's, and not writable by others unless sticky (whoever
    may write to it may swap the files in it). Returns whether others may write to it (sticky)."""
    st = os.stat(folder)
    if st.st_uid not in (uid, 0):
        raise StorageError(f"refusing {path}: its folder {folder} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise StorageError(f"refusing {path}: its folder {folder} is writable by other users"
                           f" (mode {stat.S_IMODE(st.st_mode):04o}) and not sticky")
    return bool(st.st_mode & 0o022)


def _check_ancestors(path: str, folder: str, uid: int) -> None:
    """The folders above the database's folder, by the same rule: whoever may rename one of them can
    put another tree in its place."""
    while True:
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent
        _check_folder(path, folder, uid)


MAX_LINKS = 40  # as Linux's ELOOP


def _real_path(path: str, uid: int) -> str:
    """os.path.realpath of an absolute path, refusing a symbolic link of another user's anywhere on
    the way. Missing components are kept as they are (the file may be made next)."""
    resolved, todo, links = "/", [part for part in reversed(path.split("/")) if part], 0
    while todo:
        name = todo.pop()
        if name == ".":
            continue
        if name == "..":
            resolved = os.path.dirname(resolved)
            continue
        candidate = os.path.join(resolved, name)
        st = _lstat(candidate)
        if st is None or not stat.S_ISLNK(st.st_mode):
            resolved = candidate
            continue
        if st.st_uid not in (uid, 0):
            raise StorageError(f"refusing {path}: {candidate} is a symbolic link of another user's (uid {st.st_uid})")
        links += 1
        if links > MAX_LINKS:
            raise StorageError(f"cannot open database {path}: too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = "/"
        todo.extend(part for part in reversed(target.split("/")) if part)
    return resolved


FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
              stat.S_IFIFO: "a fifo", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def _check_file(path: str, st: os.stat_result, uid: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise StorageError(f"refusing {path}: it is {kind}, not a queuectl database file")
    if st.st_uid != uid:
        raise StorageError(f"refusing {path}: it belongs to another user (uid {st.st_uid}), not to this one (uid {uid})")
    if st.st_mode & 0o022:
        raise StorageError(f"refusing {path}: it is writable by other users (mode {stat.S_IMODE(st.st_mode):04o})")


def _make_companion(path: str, mode: int) -> None:
    """Make an empty -wal or -shm for SQLite, with the database file's mode, as SQLite would. One
    that exists already (another process of ours opening the database, or not) is checked."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except FileExistsError:
        _check_file(path, os.lstat(path), os.geteuid())
        return
    os.fchmod(fd, mode)
    os.close(fd)


def _add_owner_write(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)
    finally:
        os.close(fd)


def _create_file(path: str) -> os.stat_result:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # made meanwhile: checked like any other
        pass
    else:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.close(fd)
    return os.lstat(path)


def _in_wal_mode(path: str) -> bool:
    """Whether the file's header says WAL mode (read and write versions 2), as queuectl's are."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        header = os.read(fd, 20)
    finally:
        os.close(fd)
    return header[:16] == b"SQLite format 3\0" and header[18:20] == b"\2\2"


def _prepare_companions(path: str, st: os.stat_result, companions: dict, shared: bool) -> None:
    for suffix, cst in companions.items():
        if cst is not None and not cst.st_mode & stat.S_IWUSR:
            _add_owner_write(path + suffix)  # left by an older version reading a read-only file
    missing = [suffix for suffix, cst in companions.items() if cst is None]
    # In a folder others may write to (/tmp), another user could make these in the instant before
    # SQLite does: they are made now, as SQLite makes them (never removed by us: another connection
    # may be using them by then). Not beside a file in rollback mode: a new database, or another
    # program's, which SQLiteStore refuses before anything is made.
    if missing and shared and st.st_size > 0 and _in_wal_mode(path):
        for suffix in missing:
            _make_companion(path + suffix, stat.S_IMODE(st.st_mode))


def _file_uri(path: str) -> str:
    return "file:" + path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


class SQLiteFiles:
    """The file checks of SQLiteStore; uses its path, _target and read_only."""

    path: str
    _target: str
    _opened: tuple[int, int] | None
    read_only: bool
    _shared = False  # the file's folder is one others may write to (sticky, like /tmp)

    def _check_files(self, create: bool, make_folder: bool) -> str:
        """Before SQLite touches anything: the database must be a regular file of this user's, with
        its -wal and -shm if they exist, none of them writable by others, in a folder that only this
        user (or root) can change, unless it is sticky like /tmp. Makes the file (0600) if missing
        and create. Returns the real path of the file."""
        uid = os.geteuid()
        try:
            path, st = self._resolved(uid)
            folder = os.path.dirname(path)
            if st is None:
                self._may_create(folder, create, make_folder)
            shared = self._shared = _check_folder(path, folder, uid)
            _check_ancestors(path, folder, uid)
            if st is None:
                st = _create_file(path)
            _check_file(path, st, uid)
            companions = {suffix: _lstat(path + suffix) for suffix in ("-wal", "-shm")}
            # a -journal is only SQLite's while it makes a new database, but one found is played back
            for suffix, cst in [*companions.items(), ("-journal", _lstat(path + "-journal"))]:
                if cst is not None:
                    _check_file(path + suffix, cst, uid)
            if not os.access(path, os.W_OK):
                self._open_read_only(path, create, companions)
            else:
                _prepare_companions(path, st, companions, shared)
                # the checked file, not the links that led to it; mode=rw: should it go, SQLite must
                # not make an empty one in its place for a later connection (see replaced)
                self._target = _file_uri(path) + "?mode=rw"
            return path
        except OSError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc.strerror}") from None

    def _resolved(self, uid: int) -> tuple[str, os.stat_result | None]:
        """The real path and its lstat (None: absent). Every symbolic link on the way, to a folder or
        to the file, must be this user's (or root's): another user could point it elsewhere between
        this check and SQLite's open. SQLite then opens the real path, never the links again."""
        path = _real_path(self.path, uid)
        return path, _lstat(path)

    def _may_create(self, folder: str, create: bool, make_folder: bool) -> None:
        if not create:
            raise StorageError(f"no queue database at {self.path}: check the path"
                               " (enqueue, worker start and config set create one)")
        if make_folder:
            _make_folders(folder)
        elif not os.path.isdir(folder):
            raise StorageError(f"cannot create database {self.path}: no folder {folder}")

    def _open_read_only(self, path: str, create: bool, companions: dict) -> None:
        """A file this user cannot write: read it without making any file beside it (SQLite's
        read-only mode would make a -wal and -shm as read-only as the file, and a writer would find
        them so once the file was writable again)."""
        if create:
            raise StorageError(f"{self.path} is read-only")
        self.read_only = True
        wal, shm = companions["-wal"], companions["-shm"]
        uri = _file_uri(path)
        if wal is None or wal.st_size == 0:  # all its content is in the file
            self._target = uri + "?mode=ro&immutable=1"
        elif shm is not None:
            self._target = uri + "?mode=ro"
        else:
            raise StorageError(f"{self.path} is read-only and its {path}-wal holds changes SQLite must merge first:"
                               " make the file writable")

    def check_open_companions(self, path: str) -> None:
        """In a folder others may write to: the -wal and -shm that SQLite holds open must be this
        user's. Checked before, they can still go (another process's last connection deletes them)
        and come back as another user's in the instant before SQLite opens them, without O_EXCL;
        SQLite would trust that user's WAL index. Looked up by the descriptors SQLite holds, so no
        later rename can fool the check. Call once the connection has read the database."""
        wanted = (path + "-wal", path + "-shm")
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:  # no /proc: the checks before the open are all there is
            return
        for fd in fds:
            link = f"/proc/self/fd/{fd}"
            try:
                target = os.readlink(link).removesuffix(" (deleted)")
                if target in wanted:
                    _check_file(target, os.stat(link), os.geteuid())
            except FileNotFoundError:  # closed meanwhile (another thread)
                continue

    # connection handling ---------------------------------------------------------------------------

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def replaced(self) -> str | None:
        try:
            found = self._identity()
        except OSError:  # cannot look (a folder made unreadable): not judged
            return None
        if found is None:
            return f"{self.path} was deleted while in use"
        if found != self._opened:
            return f"{self.path} was replaced by another file while in use"
        return None

