"""Small formatting helpers for the screen. Every user-derived string goes through `safe`."""

from __future__ import annotations

import os
import re
import urllib.parse

from rich.text import Text

from core.clock import to_iso
from core.text import visible


def safe(value: object, style: str = "", one_line: bool = True) -> Text:
    """Untrusted text (commands, ids, output) as a literal Text: markup is not parsed and control
    characters are shown as escapes, so `[bold]` or ESC[31m never restyle the screen."""
    return Text(visible("" if value is None else str(value), keep_newlines=not one_line), style=style)


def span(seconds: float | None) -> str:
    """A short human duration: 850ms, 12s, 3m05s, 2h10m, 4d3h."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    m, s = divmod(int(s), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h}h"


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = now - ts
    if delta < 0:
        return f"in {span(-delta)}"
    return "now" if delta < 1 else f"{span(delta)} ago"


def count(n: int, width: int) -> str:
    """An integer in at most `width` cells (from 4): as is when it fits, else its leading digits and
    power of ten, cut rather than rounded, as 9.2e18 or 9e18 (the detail shows it whole)."""
    text = str(n)
    if len(text) <= width:
        return text
    sign, digits = ("-" if n < 0 else ""), str(abs(n))
    power = f"e{len(digits) - 1}"
    short = f"{sign}{digits[0]}.{digits[1]}{power}"
    return short if len(short) <= width else f"{sign}{digits[0]}{power}"


def due(ts: float, now: float) -> str:
    return "now" if ts <= now else f"in {span(ts - now)}"


def stamp(ts: float | None, zone: bool = True) -> str:
    iso = to_iso(ts)
    return "-" if iso is None else iso[:19].replace("T", " ") + (" UTC" if zone else "")


def clip(text: Text, width: int) -> Text:
    """At most `width` cells, with an ellipsis where it was cut (the detail shows the whole)."""
    if text.cell_len > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
    return text


def db_label(location: str, source: str = "--db") -> str:
    """The database as the header shows it: a path with ~ for the home folder, or a PostgreSQL URL
    without its password (in the user part or as a password= parameter); then where it came from
    when that was not --db: "(QUEUECTL_DB)" or "(default)"."""
    if location.startswith(("postgresql://", "postgres://")):
        parts = urllib.parse.urlsplit(location)
        netloc = re.sub(r"^([^@/]*?):[^@/]*@", r"\1@", parts.netloc)
        query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith(("password=", "sslpassword=")))
        shown = urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))
    else:
        home = os.path.expanduser("~")
        shown = "~" + location[len(home):] if home not in ("", "/") and location.startswith(home + os.sep) else location
    if source == "QUEUECTL_DB":
        shown += " (QUEUECTL_DB)"
    elif source == "default":
        shown += " (default)"
    return visible(shown)
