"""Which URLs a webhook may call: http(s) only, and not into our own network (SSRF).

Promise: check(url) raises Invalid("url") unless every address the host resolves to is a public
one. Loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 — cloud
metadata lives there — fe80::/10), multicast, reserved and unspecified addresses are refused,
unless the config flag WEBHOOKS_ALLOW_PRIVATE is on (tests, a receiver on the same machine).
It runs at save time and again before each delivery, after a fresh DNS lookup, so a name that
later points inward is caught then.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

from crm.errors import Invalid


def allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"))


def check(url: str, *, allow_private_hosts: bool | None = None) -> list[str]:
    """The addresses the URL's host resolves to; raises Invalid for a URL we will not call."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("Enter a full http:// or https:// URL.", "url")
    if parts.username or parts.password:
        raise Invalid("Put credentials in the secret, not in the URL.", "url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("That URL has an invalid port.", "url") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Invalid(f"The host {parts.hostname} cannot be resolved.", "url") from None
    addresses = sorted({info[4][0] for info in infos})
    allowed = allow_private() if allow_private_hosts is None else allow_private_hosts
    if not allowed:
        for address in addresses:
            if not is_public(address):
                raise Invalid(
                    f"{parts.hostname} resolves to {address}, a private or local address; "
                    "webhooks may only call public addresses.",
                    "url",
                )
    return addresses


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    inward = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or getattr(ip, "is_site_local", False)
    )
    return not inward
