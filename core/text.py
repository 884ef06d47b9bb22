"""Untrusted text made safe to print on a terminal: control characters shown, never executed."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (which some terminals also obey).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMES = {"\x1b": "\\e", "\r": "\\r", "\x00": "\\0", "\x08": "\\b", "\x07": "\\a"}


def visible(text: str, keep_newlines: bool = True) -> str:
    """Replace control characters (ESC, CR, BEL, ...) with visible escapes such as \\e and \\x9b."""
    out = _CONTROL.sub(lambda m: _NAMES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)
    if not keep_newlines:
        out = out.replace("\n", "\\n").replace("\t", "\\t")
    return out


def brief(value: object, limit: int = 80) -> str:
    """repr(value) for an error message: at most about `limit` characters, and never itself an error
    (a list nested hundreds deep, a 4,000-digit integer)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        return f"a {type(value).__name__} too large to show"
    if len(text) > limit:
        return f"{text[:limit - 24]}... ({len(text):,} characters)"
    return text
