"""Where the app may send a browser back to: the one safe-redirect rule.

Promise: `safe_url(target, fallback)` returns a path on this site (starting with a single "/")
or `fallback`, never an address that a browser would resolve to another host. Every redirect
whose target comes from the request — `next=`, a form's `next` field, the Referer header — goes
through it. Refused: other hosts and protocol-relative URLs (`//evil.example`), any scheme
(`javascript:`, `data:`), backslashes (browsers read `/\\evil.example` as `//evil.example`),
and control characters or whitespace (browsers drop tabs and newlines inside URLs, so
`/\\t/evil.example` would become `//evil.example`). An absolute URL on this very host (what the
Referer header carries) is reduced to its path and query.

`safe_url(..., origins=[...])` also lets through an absolute http(s) URL on one of the listed
origins (a web-to-lead form's thank-you page on the customer's own site); `origin_of(url)` is
how those origins are written and compared: `scheme://host[:port]`, lower-cased. Both go through
the same refusals as above, so there is one copy of the URL-safety rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from flask import request


def _split(target: str) -> SplitResult | None:
    """The parts of `target`, or None when a browser might read it otherwise (or it is no URL)."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018  (raises ValueError on a port that is no number or out of range)
    except ValueError:  # "http://[::1" and friends
        return None
    return parts


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, lower-cased; None for anything else."""
    parts = _split((url or "").strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _same_site_path(target: str) -> str | None:
    parts = _split(target)
    if parts is None:
        return None
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def safe_url(target: str | None, fallback: str, *, origins: Iterable[str] = ()) -> str:
    """`target` when it is a path on this site (or an absolute URL on one of `origins`), else
    `fallback` (see the module docstring)."""
    if not target or len(target) > 2048:
        return fallback
    target = target.strip()
    if origins and (origin := origin_of(target)) is not None and origin in set(origins):
        return target
    return _same_site_path(target) or fallback


def back_url(fallback: str) -> str:
    """Where the user came from (the Referer, when it is this site), else `fallback`."""
    return safe_url(request.referrer, fallback)
