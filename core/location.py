"""Database locations as given (a SQLite path or a postgresql:// URL) and as shown: never a password.

A PostgreSQL URL may carry a password in its user part (`user:PASSWORD@host`) or as a query
parameter (`?password=PASSWORD`); an encrypted client key's passphrase (`?sslpassword=`) is kept
as secret. Only the URL given to Queue.open() holds them. What is printed (the
store's `location`, error messages, log lines, `worker start`'s first line) comes from
`display_location()`, and a message from the driver goes through `scrub()` before it is shown.

The password is taken out of the URL here, by our own parsing, and handed to the driver on its own:
libpq never parses it, so none of its messages (which quote what they could not parse) can repeat it.
Our parsing reads what users mean where a strict reading would cut the password in two: an
unencoded `/`, `#`, `?` or `@` in it ends it at the `@` before the host, not at the first of them.
A `%` must start a valid escape (`%25` for `%` itself).

Standard library only, cheap to import: the SQLite path loads it too.
"""

from __future__ import annotations

import re
import urllib.parse

from .errors import StorageError
from .opening import POSTGRES_SCHEMES
from .record import record

HIDDEN = "***"

# What may follow the `@` that ends the user part: a comma-separated list of host[:port], each host
# a name, an address, a percent-encoded socket folder or [IPv6]; empty is allowed (the default host).
_HOST = r"(?:\[[0-9A-Za-z:.%]*\]|[A-Za-z0-9._~%-]*)(?::[0-9]*)?"
_HOSTS = re.compile(rf"{_HOST}(?:,{_HOST})*")
# libpq's connection parameters (and our `schema`): an `@` in one's value is in the query, not a password.
_PARAMS = (
    "host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout "
    "client_encoding options application_name fallback_application_name keepalives keepalives_idle "
    "keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation "
    "requiressl sslcompression sslcert sslkey sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni "
    "requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service "
    "target_session_attrs load_balance_hosts schema"
).split()
_IN_QUERY = re.compile(r"[?&](?:" + "|".join(_PARAMS) + r")=[^&]*\Z")
SECRETS = ("password", "sslpassword")  # query parameters never shown, nor given to libpq in its URL
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@record
class PgLocation:
    """A postgresql:// URL taken apart: `url` for libpq without the passwords and without our
    `schema` option, the passwords on their own, and the URL to show."""

    url: str
    secrets: dict[str, str]  # password and sslpassword, decoded: for libpq as keywords, never in its URL
    query: list[tuple[str, str]]  # (decoded key, raw value) of the query, in order, schema included
    shown: str
    hidden: tuple[str, ...]  # every secret text of the URL, as written and decoded


def _credentials_end(rest: str) -> int:
    """Index in `rest` (the URL after `scheme://`) of the `@` that ends user[:password], or -1.
    The last `@` that is followed by a host list, and is not in the value of a query parameter."""
    for at in reversed([i for i, c in enumerate(rest) if c == "@"]):
        before = rest[:at]
        host = re.split(r"[/?]", rest[at + 1:], maxsplit=1)[0]
        if not _HOSTS.fullmatch(host) or _IN_QUERY.search(before):
            continue
        if ("/" in before or "?" in before) and ":" not in before:
            continue  # a path or a query, not a user name (a password may hold them, a name not)
        return at
    return -1


def _decode(raw: str, what: str) -> str:
    """Percent-decode a user name or password; StorageError naming `what`, never the text."""
    if _BAD_ESCAPE.search(raw):
        raise StorageError(f"invalid PostgreSQL URL: the {what} is not percent-encoded correctly "
                           "(write % as %25; it is not shown here)")
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise StorageError(f"invalid PostgreSQL URL: the {what} is not UTF-8 once percent-decoded") from None


def parse_postgres_url(url: str, defaults: dict[str, str] | None = None) -> PgLocation:
    """Take a postgresql:// (or postgres://) URL apart; StorageError, without the password, if it
    cannot be. `defaults` are query parameters added to the libpq URL when absent."""
    scheme = next(s for s in POSTGRES_SCHEMES if url.startswith(s))
    rest = url[len(scheme):]
    at = _credentials_end(rest)
    userinfo, rest = (rest[:at], rest[at + 1:]) if at >= 0 else (None, rest)
    user_raw, passwords, hidden = None, {}, []
    if userinfo is not None:
        user_raw, colon, password_raw = userinfo.partition(":")
        if _BAD_ESCAPE.search(user_raw):
            raise StorageError("invalid PostgreSQL URL: the user name is not percent-encoded correctly "
                               "(write % as %25)")
        if colon:
            passwords["password"] = _decode(password_raw, "password")
            hidden += [password_raw, passwords["password"]]
    head, question, query_text = rest.partition("?")
    query, in_query = _query(query_text if question else "", bool(passwords))
    for key, raw in in_query:
        passwords[key] = _decode(raw, key)
        hidden += [raw, passwords[key]]
    # libpq's URL: no secret anywhere, no schema option, the defaults added
    kept = [f"{urllib.parse.quote(k, safe='')}={v}" for k, v in query if k not in (*SECRETS, "schema")]
    present = {k for k, _ in query}
    kept += [f"{k}={urllib.parse.quote(v, safe='')}" for k, v in (defaults or {}).items() if k not in present]
    user_part = f"{user_raw}@" if user_raw else ""
    libpq_url = scheme + user_part + head + ("?" + "&".join(kept) if kept else "")
    # shown: the user, the host, the database and the options as given; passwords as ***
    if userinfo is not None:
        user_part = f"{user_raw}:{HIDDEN}@" if ":" in userinfo else f"{user_raw}@"
    shown_query = [f"{urllib.parse.quote(k, safe='')}={HIDDEN if k in SECRETS else v}" for k, v in query]
    shown = scheme + user_part + head + ("?" + "&".join(shown_query) if question else "")
    return PgLocation(libpq_url, passwords, query, shown, tuple(h for h in hidden if h))


def _query(text: str, secret_before: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A URL's query as (key, raw value) pairs, and the secrets among them."""
    query, passwords = [], []
    for number, piece in enumerate(text.split("&") if text else [], 1):
        key, equals, value = piece.partition("=")
        if not equals or not key:
            if secret_before or "password" in text:  # the piece may be a password: not shown
                raise StorageError(f"invalid PostgreSQL URL: query parameter {number} is not key=value")
            raise StorageError(f"invalid PostgreSQL URL: query parameter {piece!r} is not key=value")
        key = urllib.parse.unquote(key)
        if key in SECRETS:
            passwords.append((key, value))
        query.append((key, value))
    return query, passwords


def _loose_secret(location: str) -> str | None:
    """For a location that is URL-like but not usable as one: the text that may be a password,
    from the first `:` after `scheme://` to the last `@` (the widest reading)."""
    match = _SCHEME.match(location)
    if not match:
        return None
    rest = location[match.end():]
    colon, at = rest.find(":"), rest.rfind("@")
    return rest[colon + 1:at] if 0 <= colon < at else None


def secrets(location: str | None) -> list[str]:
    """Every text of `location` that is (or may be) a password, raw and percent-decoded: what
    scrub() takes out of messages."""
    if not location:
        return []
    found: list[str] = []
    if location.startswith(POSTGRES_SCHEMES):
        try:
            found += parse_postgres_url(location).hidden
        except StorageError:
            found += re.findall(r"[?&](?:ssl)?password=([^&]+)", location)
    loose = _loose_secret(location)
    if loose:
        found.append(loose)
    out = []
    for text in found:
        for form in (text, urllib.parse.unquote(text), urllib.parse.quote(text, safe="")):
            if form and form not in out:
                out.append(form)
    return sorted(out, key=len, reverse=True)  # the longest first: a shorter one may be inside it


def scrub(text: str, location: str | None = None, hidden: list[str] | None = None) -> str:
    """`text` with every password of `location` (or the texts `hidden`) replaced by ***."""
    for secret in (hidden if hidden is not None else secrets(location)):
        text = text.replace(secret, HIDDEN)
    return text


def display_location(location: str) -> str:
    """A location as it may be shown: a SQLite path as it is; a URL without any password."""
    postgres = location.startswith(POSTGRES_SCHEMES)
    if postgres:
        try:
            return parse_postgres_url(location).shown
        except StorageError:
            pass
    match = _SCHEME.match(location)
    if match is None:
        return location
    # Not usable as a URL: from the first ":" to the last "@" hidden (the widest reading of a
    # password), and a PostgreSQL URL's query too (it may hold password=).
    head, rest = location[:match.end()], location[match.end():]
    if _loose_secret(location) is not None:
        head, rest = head + rest[:rest.find(":") + 1] + HIDDEN, rest[rest.rfind("@"):]
    if postgres and "?" in rest:
        rest = rest[:rest.find("?")] + "?..."
    return head + rest
