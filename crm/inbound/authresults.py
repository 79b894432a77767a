"""Sender authentication of inbound mail: SPF/DKIM/DMARC verdicts we can trust, or none.

A From header is only a claim. Two sources can back it:

1. `Authentication-Results` (RFC 8601) added by the receiving mail server, trusted only when its
   authserv-id is one of INBOUND_AUTHSERV_ID: a sender can write any such header, so every other
   one is ignored. That server must remove sender-supplied headers carrying its own id (RFC 8601
   section 5; Postfix with OpenDKIM/OpenDMARC, rspamd and the big providers do).
2. Otherwise, when mail reached us directly, its DKIM signatures, checked here with dkimpy. The
   key lookup (DNS) is `dnsfunc`, injectable because tests and offline installs have no DNS.

`passed` means the From domain is vouched for: DMARC passed, or a DKIM signature of the From
domain (or of its parent or a subdomain: relaxed alignment) verified. SPF alone never counts:
it vouches for the envelope sender, which the From header need not match.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

import dkim
from flask import current_app

log = logging.getLogger(__name__)

METHODS = ("spf", "dkim", "dmarc")
RESULT_WORDS = frozenset(
    {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"}
)
_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_RESULT = re.compile(r"^([a-z0-9-]+)(?:/\d+)?\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"\b([a-z]+\.[a-z0-9_-]+)\s*=\s*(\S+)", re.IGNORECASE)
DNSFunc = Callable[..., bytes | None]


def check(raw: bytes) -> dict:
    """`verdicts()` with the app's settings; never raises (the listener must keep serving).

    Called when mail is received, before it is stored: the DKIM key lookups then delay only
    this sender's reply, never a transaction or the other sessions.
    """
    config = current_app.config
    try:
        return verdicts(
            raw,
            trusted_ids=str(config.get("INBOUND_AUTHSERV_ID") or "").split(","),
            dkim_check=bool(config.get("INBOUND_DKIM_CHECK", True)),
            dnsfunc=config.get("INBOUND_DKIM_DNSFUNC"),
        )
    except Exception:
        log.exception("checking sender authentication failed")
        return {"source": None, "passed": False}


def blocks_new_contacts(require: bool, auth: dict | None) -> bool:
    """Whether a team that requires it must hold mail rather than create contacts from it."""
    return require and not (auth or {}).get("passed")


def hold_reason(auth: dict | None) -> str:
    """Why mail was held instead of creating contacts, for the review queue and the log."""
    return f"the sender's domain did not pass DKIM or DMARC ({summary(auth)})"


def summary(auth: dict | None) -> str:
    """What the review queue and the inbound log show, e.g.
    "SPF pass · DKIM pass · DMARC pass (mx.example.com): sender's domain verified"."""
    if not auth or not auth.get("source"):
        return "no DKIM signature or trusted Authentication-Results: sender not verified"
    verdicts = " · ".join(f"{m.upper()} {auth[m]}" for m in METHODS if auth.get(m))
    source = str(auth["source"]).removeprefix("header ")
    outcome = "sender's domain verified" if auth.get("passed") else "sender not verified"
    return f"{verdicts or 'no verdicts'} ({source}): {outcome}"


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def _headers(raw: bytes):
    """The header block only: the body can be 25 MB and is not needed here."""
    end = _HEADER_END.search(raw)
    return BytesHeaderParser(policy=compat32).parsebytes(raw[: end.end()] if end else raw)


def parse(value: str) -> tuple[str, dict[str, dict]]:
    """One header value → (authserv-id, {method: {"result", "properties"}}); first result wins."""
    text = " ".join(value.split())
    while _COMMENT.search(text):  # comments nest; strip the innermost until none is left
        text = _COMMENT.sub(" ", text)
    text = _QUOTED.sub(lambda m: m.group(1).replace(";", " "), text)
    head, *parts = text.split(";")
    authserv_id = (head.split() or [""])[0].lower()
    results: dict[str, dict] = {}
    for part in parts:
        match = _RESULT.match(part.strip())
        if not match:
            continue
        method, result, rest = match.group(1).lower(), match.group(2).lower(), match.group(3)
        if method not in METHODS or result not in RESULT_WORDS:
            continue
        properties = {k.lower(): v.lower() for k, v in _PROPERTY.findall(rest)}
        domain = properties.get("header.d") or properties.get("header.i", "").rpartition("@")[2]
        entry = results.setdefault(method, {"result": result, "domains": []})
        if method == "dkim" and result == "pass":  # several signatures: any passing one counts
            entry["result"] = "pass"
            if domain:
                entry["domains"].append(domain)
    return authserv_id, results


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment, without a public-suffix list: equal, or one a subdomain of the other."""
    a, b = signing_domain.lower().strip("."), from_domain.lower().strip(".")
    if not a or not b:
        return False
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def verdicts(
    raw: bytes,
    *,
    trusted_ids: Iterable[str] = (),
    dkim_check: bool = True,
    dnsfunc: DNSFunc | None = None,
) -> dict:
    """The sender-authentication verdicts of one raw message (see the module's docstring)."""
    headers = _headers(raw)
    senders = getaddresses([str(v) for v in headers.get_all("From") or []])
    # One From address, or nothing is vouched for (a list of authors has no single domain).
    from_domain = senders[0][1].rpartition("@")[2].lower() if len(senders) == 1 else ""
    trusted = {t.strip().lower() for t in trusted_ids if t and t.strip()}
    found: dict[str, dict] = {}
    source = None
    if trusted:
        for value in (str(v) for v in headers.get_all("Authentication-Results") or []):
            authserv_id, results = parse(value)
            if authserv_id not in trusted:
                continue
            source = source or f"header {authserv_id}"
            for method, result in results.items():
                found.setdefault(method, result)  # the topmost trusted verdict wins
    if source is None and dkim_check and headers.get("DKIM-Signature") is not None:
        dkim_result = check_dkim(raw, dnsfunc)
        if dkim_result is not None:
            source = "dkim check"
            found["dkim"] = dkim_result
    out: dict = {method: found[method]["result"] for method in METHODS if method in found}
    dkim_domains = found.get("dkim", {}).get("domains", [])
    if dkim_domains:
        out["dkim_domains"] = dkim_domains[:5]
    out["source"] = source
    out["from_domain"] = from_domain
    out["passed"] = bool(from_domain) and (
        out.get("dmarc") == "pass" or any(aligned(d, from_domain) for d in dkim_domains)
    )
    return out


def check_dkim(raw: bytes, dnsfunc: DNSFunc | None = None) -> dict | None:
    """Verify the message's DKIM signatures; None when it has none.

    "pass" with the domains (d=) of the signatures that verified, when any did; otherwise the
    last failure: "fail" for a bad or missing signature key, "permerror" for a malformed key,
    "temperror" when the key lookup itself failed (DNS unreachable).
    """
    try:
        checker = dkim.DKIM(raw, logger=log)
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    except Exception:  # a message dkimpy cannot even read is not signed as far as we can tell
        return None
    if not count:
        return None
    outcome: dict = {"result": "fail", "domains": []}
    for idx in range(min(count, 5)):  # a sender can add many signatures; each costs a lookup
        try:
            ok = checker.verify(idx=idx, dnsfunc=dnsfunc or dkim.dnsplug.get_txt)
            result = "pass" if ok else "fail"
        except dkim.KeyFormatError:
            result = "permerror"
        except dkim.DKIMException:  # e.g. the body was changed after signing
            result = "fail"
        except Exception:  # DNS timeouts and the like
            log.info("DKIM key lookup failed", exc_info=True)
            result = "temperror"
        if result == "pass":
            outcome["result"] = "pass"
            outcome["domains"].append((checker.domain or b"").decode("ascii", "replace").lower())
        elif outcome["result"] != "pass":
            outcome["result"] = result
    return outcome
