"""Untrusted text made safe to print on a terminal: control characters shown, never executed."""

from __future__ import annotations

# C0 controls except tab and newline, DEL, and C1 controls (which some terminals also obey).
_NAMES = {"\x1b": "\\e", "\r": "\\r", "\x00": "\\0", "\x08": "\\b", "\x07": "\\a"}
# str.translate tables: one pass in C (a regex with a function per match took seconds on megabytes
# of binary output, where nearly every other character is a control character)
_TABLE = {c: _NAMES.get(chr(c), f"\\x{c:02x}") for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0)]}
_TABLE_ONE_LINE = {**_TABLE, ord("\n"): "\\n", ord("\t"): "\\t"}


def visible(text: str, keep_newlines: bool = True) -> str:
    """Replace control characters (ESC, CR, BEL, ...) with visible escapes such as \\e and \\x9b."""
    return text.translate(_TABLE if keep_newlines else _TABLE_ONE_LINE)


def text_env(env: object) -> dict[str, str] | None:
    """A job's env if it is what enqueue takes, an object of text values; else None. The database
    may hold anything that was written past enqueue's checks (by hand, by another program)."""
    if isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        return env
    return None


def is_utf8(text: str) -> bool:
    """Whether text can be written as UTF-8: a lone surrogate (JSON "\\ud800", an argument's bytes that
    are not UTF-8) cannot, and no database, file or process would take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def brief(value: object, limit: int = 80) -> str:
    """repr(value) for an error message: at most about `limit` characters, and never itself an error
    (a list nested hundreds deep, a 4,000-digit integer)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        return f"a {type(value).__name__} too large to show"
    if len(text) > limit:
        size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters written out"
        return f"{text[:limit - 24]}... ({size})"
    return text


LINE_NEAR = 1024  # a cut output starts at the next line if one starts within this many bytes


def line_start(data: bytes, near: int = LINE_NEAR) -> int:
    """Where the first whole line of `data` starts, if one starts within its first `near` bytes
    and something follows; else 0 (no line boundary near: the partial line is shown)."""
    newline = data.find(b"\n", 0, near)
    return newline + 1 if 0 <= newline < len(data) - 1 else 0


def last_lines(data: bytes, count: int) -> int:
    """Where the last `count` lines of `data` start (a final newline ends a line, not starts one)."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(count):
        end = data.rfind(b"\n", 0, end)
        if end < 0:
            return 0
    return end + 1


def output_tail(data: bytes, dropped: int, unread: int = 0, max_lines: int | None = None,
                hint: str = "") -> tuple[str | None, bytes]:
    """What to show of a stream's captured output: (a marker line for what is missing before it, or
    None; the bytes to show). The one place that decides both, for the CLI and the app.

    dropped: bytes the job wrote before the kept tail (output-limit); unread: bytes kept but not
    read (a tail read); max_lines: show at most that many lines. Where the output was cut, what is
    shown starts at a line boundary when one is near (see line_start), and the partial line before
    it is counted with what is missing. `hint` (how to see the rest) ends a marker of bytes not shown.
        "... 1,234,567 bytes before this were not kept"
        "... 4,000 bytes before this are not shown, and 1,234,567 before those were not kept"
    """
    start = last_lines(data, max_lines) if max_lines is not None else 0
    cut_lines = start > 0
    if not cut_lines and (unread or dropped):
        start = line_start(data)
    if unread or cut_lines:
        hidden = unread + start
        marker = f"... {hidden:,} {_bytes(hidden)} before this {'is' if hidden == 1 else 'are'} not shown"
        if dropped:
            marker += f", and {dropped:,} before {'that' if hidden == 1 else 'those'} {_were(dropped)} not kept"
        return marker + hint, data[start:]
    if dropped:
        lost = dropped + start
        return f"... {lost:,} {_bytes(lost)} before this {_were(lost)} not kept", data[start:]
    return None, data


def _bytes(n: int) -> str:
    return "byte" if n == 1 else "bytes"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"
