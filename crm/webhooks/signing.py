"""The Rapport-Signature header: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.

The receiver recomputes the HMAC with the webhook's secret over the timestamp and the raw body
it received, compares in constant time and refuses old timestamps (replays). docs/webhooks.md
has the receiver's snippet; tests run that snippet against real deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Rapport-Signature"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """The receiver's side (the same code as the docs' snippet)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp = int(parts.get("t", "0"))
    if abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))
