"""Time as the engine sees it: epoch seconds (float, UTC). Tests swap in a FixedClock."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from .errors import InvalidInput
from .text import brief


class Clock:
    def now(self) -> float:
        return time.time()


class FixedClock(Clock):
    """A clock that only moves when told to; for deterministic tests and screenshots."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


SYSTEM = Clock()


def to_iso(ts: float | None) -> str | None:
    """Epoch seconds to ISO 8601 UTC with millisecond precision, e.g. 2026-11-28T15:04:05.123Z."""
    if ts is None:
        return None
    try:
        dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # not in_range: written past enqueue's checks
        return "9999-12-31T23:59:59.999Z" if ts > 0 else "0001-01-01T00:00:00.000Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def in_range(ts: float) -> bool:
    """Whether ts falls in the years 1 to 9999 (UTC), which to_iso shows as they are."""
    try:
        datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return False
    return True


def parse_iso(text: str) -> float:
    """ISO 8601 to epoch seconds. A time without an offset is taken as UTC. Raises ValueError."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


DURATION = r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)"  # compiled at first use, as models.ID_PATTERN
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_HELP = "a number of seconds, or with a unit: 90, 1.5, 30s, 5m, 12h, 7d, 2w"


def parse_duration(text: str, name: str = "duration") -> float:
    """'90', '1.5', '30s', '5m', '12h', '7d', '2w' to seconds: the one reading of a duration wherever
    seconds are asked for (config set, --timeout, --older-than). Raises InvalidInput naming `name`."""
    match = re.fullmatch(DURATION, text.strip().lower())
    if not match:
        raise InvalidInput(f"invalid {name} {brief(text)}: {DURATION_HELP}")
    return float(match.group(1)) * UNITS[match.group(2)]
