"""Where the app may send a browser back to: the one safe-redirect rule.

Promise: `safe_url(target, fallback)` returns a path on this site (starting with a single "/")
or `fallback`, never an address that a browser would resolve to another host. Every redirect
whose target comes from the request — `next=`, a form's `next` field, the Referer header — goes
through it. Refused: other hosts and protocol-relative URLs (`//evil.example`), any scheme
(`javascript:`, `data:`), backslashes (browsers read `/\\evil.example` as `//evil.example`),
and control characters or whitespace (browsers drop tabs and newlines inside URLs, so
`/\\t/evil.example` would become `//evil.example`). An absolute URL on this very host (what the
Referer header carries) is reduced to its path and query.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def _same_site_path(target: str) -> str | None:
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
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


def safe_url(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site, else `fallback` (see the module docstring)."""
    if not target or len(target) > 2048:
        return fallback
    return _same_site_path(target.strip()) or fallback


def back_url(fallback: str) -> str:
    """Where the user came from (the Referer, when it is this site), else `fallback`."""
    return safe_url(request.referrer, fallback)
