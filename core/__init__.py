"""queuectl's engine: a persistent job queue for shell commands. No UI in here."""

from .errors import Conflict, InvalidInput, NotFound, QueueError, StorageError
from .models import Job, JobState, Run, Settings, WorkerInfo
from .queue import Queue

__all__ = ["Queue", "Job", "JobState", "Run", "Settings", "WorkerInfo",
           "QueueError", "InvalidInput", "NotFound", "Conflict", "StorageError"]
