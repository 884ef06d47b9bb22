"""Errors the engine raises. The CLI maps them to exit codes: InvalidInput -> 2, the rest -> 1."""


class QueueError(Exception):
    """Base class: an operation failed."""


class InvalidInput(QueueError):
    """The caller's input is invalid; nothing was changed."""


class NotFound(QueueError):
    """No job (or setting) with that name."""


class Conflict(QueueError):
    """The operation does not apply: id already taken, job in the wrong state."""


class StorageError(QueueError):
    """The database cannot be used: not a database, read-only, too old, unreachable."""


class IdTaken(Conflict):
    """job_id None: not an id but a unique_key, taken by another writer meanwhile."""

    def __init__(self, job_id: str | None) -> None:
        super().__init__(f"job id {job_id!r} is already taken" if job_id else "a unique_key was taken meanwhile")
        self.job_id = job_id


class ItemError(QueueError):
    """One item of a bulk enqueue is refused; index is 0-based (other: the item it clashes with).
    The message names the item; alone() is the same error about a single job."""

    PLAIN: type[QueueError]

    def __init__(self, index: int, reason: str, other: int | None = None) -> None:
        super().__init__(f"item {index + 1}: {reason}")
        self.index = index
        self.reason = reason
        self.other = other

    def alone(self) -> QueueError:
        return self.PLAIN(self.reason)


class InvalidItem(ItemError, InvalidInput):
    PLAIN = InvalidInput


class ItemConflict(ItemError, Conflict):
    """An item names a job id that is taken already."""

    PLAIN = Conflict
