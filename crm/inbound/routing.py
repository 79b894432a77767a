"""Routing decisions for email-in: which address was used, and what to log on whom.

Pure functions over `ParsedMail`; the app turns a `Plan` into timeline entries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crm.inbound.forwards import strip_subject_prefixes
from crm.inbound.mailtypes import Address, ForwardedMessage, ParsedMail, dedupe

Direction = Literal["outgoing", "incoming"]

_TOKEN = re.compile(r"[a-z0-9]{8,32}")
_DEAL_ID = re.compile(r"[0-9]{1,18}")
# Role senders are machines, never contacts worth a timeline.
_ROLE_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply", "donotreply"}
)
# Domain for ids we make up; .invalid can never clash with a real Message-ID.
SYNTHETIC_ID_DOMAIN = "rapport.invalid"

FREE_MAIL_DOMAINS = frozenset(
    {
        # Google, Microsoft, Yahoo, Apple, AOL/Verizon
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "outlook.de",
        "outlook.fr",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.de",
        "hotmail.fr",
        "hotmail.it",
        "hotmail.es",
        "live.com",
        "live.co.uk",
        "live.de",
        "live.fr",
        "msn.com",
        "passport.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.de",
        "yahoo.fr",
        "yahoo.es",
        "yahoo.it",
        "yahoo.ca",
        "yahoo.com.au",
        "yahoo.co.in",
        "yahoo.co.jp",
        "ymail.com",
        "rocketmail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "aim.com",
        "verizon.net",
        # Privacy-focused and independent
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tutanota.de",
        "tuta.io",
        "tuta.com",
        "posteo.de",
        "posteo.net",
        "mailbox.org",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "zoho.com",
        "zohomail.com",
        "hushmail.com",
        "runbox.com",
        "disroot.org",
        "riseup.net",
        # Germany, Austria, Switzerland
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        "gmx.com",
        "gmx.us",
        "gmx.fr",
        "gmx.co.uk",
        "gmx.es",
        "gmx.it",
        "web.de",
        "t-online.de",
        "freenet.de",
        "arcor.de",
        "bluewin.ch",
        "a1.net",
        # Rest of Europe
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "alice.it",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "ntlworld.com",
        "talktalk.net",
        "seznam.cz",
        "centrum.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "telenet.be",
        "skynet.be",
        "ziggo.nl",
        "kpnmail.nl",
        "home.nl",
        "planet.nl",
        "xs4all.nl",
        "telia.com",
        "online.no",
        "inbox.lv",
        "abv.bg",
        "freemail.hu",
        "sapo.pt",
        # Russia and CIS
        "yandex.ru",
        "yandex.com",
        "yandex.by",
        "yandex.kz",
        "yandex.ua",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "rambler.ru",
        "ukr.net",
        # Asia, Americas, Oceania
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
        "yeah.net",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        "comcast.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "charter.net",
        "cox.net",
        "earthlink.net",
        "juno.com",
        "optonline.net",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        "bigpond.com",
        "optusnet.com.au",
        "xtra.co.nz",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "mail.com",
        "email.com",
        "usa.com",
        "inbox.com",
        "lycos.com",
        "gmx.ru",
    }
)


@dataclass(frozen=True)
class Recipient:
    token: str
    command: str | None  # None, "task" or "deal"
    arg: int | None  # the deal id for "deal"


@dataclass(frozen=True)
class Plan:
    direction: Direction
    sender_verified: bool
    participants: list[Address]
    primary: Address | None
    ambiguous: bool
    reason: str
    subject: str
    text: str
    occurred_at: datetime | None
    message_id: str
    thread_ids: list[str]
    note: str  # the user's own comment above a forward or override line


def parse_recipient(address: str, domain: str) -> Recipient | None:
    """Read `<token>[+task|+deal-<id>]@<domain>`; None for anything else.

    The local part is compared case-insensitively, like the domain, because
    clients and address books happily capitalise addresses. Unknown commands
    are rejected rather than ignored so the sender gets a bounce, not a
    silently mis-filed mail.
    """
    local, at, address_domain = address.strip().strip("<>").rpartition("@")
    if not at or _domain(address_domain) != _domain(domain) or not _domain(domain):
        return None
    token, plus, command = local.lower().partition("+")
    if not _TOKEN.fullmatch(token):
        return None
    if not plus:
        return Recipient(token, None, None)
    if command == "task":
        return Recipient(token, "task", None)
    name, dash, arg = command.partition("-")
    if name == "deal" and dash and _DEAL_ID.fullmatch(arg) and int(arg) > 0:
        return Recipient(token, "deal", int(arg))
    return None


def company_domain(email: str) -> str | None:
    """The domain a contact's company is probably known by; None for free-mail."""
    local, at, domain = email.strip().rpartition("@")
    domain = _domain(domain)
    if not local or not at or "." not in domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


def plan(
    parsed: ParsedMail,
    user_emails: set[str],
    teammate_emails: set[str],
    never_log: set[str],
    inbound_domain: str,
) -> Plan:
    """Decide direction and participants for one message sent to a user's address."""
    rules = _Exclusions(user_emails, teammate_emails, never_log, inbound_domain)
    sender_verified = parsed.from_ is not None and parsed.from_.email in rules.users
    external_recipients = rules.keep([*parsed.to, *parsed.cc])
    if parsed.override_from is not None:
        return _plan_override(parsed, rules, sender_verified)
    if parsed.forwarded and not external_recipients:
        # Sent *to* the CRM (or only to colleagues) with something forwarded inside.
        return _plan_forward(parsed, rules, sender_verified)
    if sender_verified:
        return _plan_outgoing(parsed, external_recipients)
    return _plan_unverified(parsed, rules)


class _Exclusions:
    """Who never becomes a participant: the user, teammates, never-log and role addresses."""

    def __init__(
        self,
        user_emails: Iterable[str],
        teammate_emails: Iterable[str],
        never_log: Iterable[str],
        inbound_domain: str,
    ) -> None:
        self.users = {email.strip().lower() for email in user_emails}
        self._people = self.users | {email.strip().lower() for email in teammate_emails}
        entries = [entry.strip().lower() for entry in never_log if entry.strip()]
        self._addresses = {entry for entry in entries if "@" in entry.lstrip("@")}
        self._domains = {_domain(entry) for entry in entries if "@" not in entry.lstrip("@")}
        self._domains.add(_domain(inbound_domain))
        self._domains.discard("")

    def excluded(self, address: Address) -> bool:
        domain = _domain(address.domain)
        return (
            address.email in self._people
            or address.email in self._addresses
            or address.email.partition("@")[0] in _ROLE_LOCAL_PARTS
            # A blocked domain covers its subdomains: eu.example.com is example.com.
            or any(domain == d or domain.endswith("." + d) for d in self._domains)
        )

    def keep(self, addresses: Iterable[Address | None]) -> list[Address]:
        present = [address for address in addresses if address is not None]
        return dedupe([address for address in present if not self.excluded(address)])


def _plan_outgoing(parsed: ParsedMail, recipients: list[Address]) -> Plan:
    return _finish(
        parsed,
        direction="outgoing",
        sender_verified=True,
        participants=recipients,
        primary=recipients[0] if recipients else None,
        subject=parsed.subject,
        text=parsed.text,
        occurred_at=parsed.date,
        message_id=parsed.message_id,
    )


def _plan_forward(parsed: ParsedMail, rules: _Exclusions, sender_verified: bool) -> Plan:
    messages = parsed.forwarded
    everyone = rules.keep(address for m in messages for address in [m.from_, *m.to, *m.cc])
    senders = rules.keep(m.from_ for m in messages)
    # The newest forwarded message comes first; its sender is whom the mail is "from".
    top = messages[0]
    by_user = top.from_ is not None and top.from_.email in rules.users
    reason = ""
    if any(m.from_ is None for m in messages):
        reason = "a forwarded message has no readable sender"
    return _finish(
        parsed,
        direction="outgoing" if by_user else "incoming",
        sender_verified=sender_verified,
        participants=everyone,
        primary=senders[0] if senders else (everyone[0] if everyone else None),
        subject=top.subject or strip_subject_prefixes(parsed.subject),
        text=top.text,
        occurred_at=top.date or parsed.date,
        message_id=top.message_id or _synthetic_id(top),
        reason=reason,
        thread_ids=[],
    )


def _plan_override(parsed: ParsedMail, rules: _Exclusions, sender_verified: bool) -> Plan:
    override = parsed.override_from
    participants = rules.keep([override])
    top = parsed.forwarded[0] if parsed.forwarded else None
    return _finish(
        parsed,
        direction="incoming",
        sender_verified=sender_verified,
        participants=participants,
        primary=participants[0] if participants else None,
        subject=(top.subject if top else "") or strip_subject_prefixes(parsed.subject),
        text=top.text if top else parsed.note,
        occurred_at=(top.date if top else None) or parsed.date,
        message_id=(top.message_id or _synthetic_id(top)) if top else parsed.message_id,
        reason="" if participants else "the From: line names an address that is never logged",
        thread_ids=[],
    )


def _plan_unverified(parsed: ParsedMail, rules: _Exclusions) -> Plan:
    """Mail whose sender is not the user: an auto-forward rule, or something odd.

    If the user is among the recipients it is mail they received and had
    forwarded here automatically; otherwise we cannot tell how it got here.
    """
    user_received = any(a.email in rules.users for a in [*parsed.to, *parsed.cc])
    participants = rules.keep([parsed.from_, *parsed.to, *parsed.cc])
    sender = rules.keep([parsed.from_])
    reason = "" if user_received else "the sender is not one of your addresses"
    return _finish(
        parsed,
        direction="incoming",
        sender_verified=False,
        participants=participants,
        primary=sender[0] if sender else (participants[0] if participants else None),
        subject=parsed.subject,
        text=parsed.text,
        occurred_at=parsed.date,
        message_id=parsed.message_id,
        reason=reason,
    )


def _finish(
    parsed: ParsedMail,
    *,
    direction: Direction,
    sender_verified: bool,
    participants: list[Address],
    primary: Address | None,
    subject: str,
    text: str,
    occurred_at: datetime | None,
    message_id: str | None,
    reason: str = "",
    thread_ids: list[str] | None = None,
) -> Plan:
    """Shared tail: empty participant lists are always ambiguous; ids never missing."""
    if not participants and not reason:
        reason = "no one outside your team to log this on"
    if message_id is None:
        message_id = _synthetic_id(
            ForwardedMessage(parsed.from_, parsed.to, parsed.cc, occurred_at, subject, text, None)
        )
    if thread_ids is None:
        thread_ids = _thread_ids(parsed)
    return Plan(
        direction=direction,
        sender_verified=sender_verified,
        participants=participants,
        primary=primary,
        ambiguous=bool(reason),
        reason=reason,
        subject=subject,
        text=text,
        occurred_at=occurred_at,
        message_id=message_id,
        thread_ids=thread_ids,
        note=parsed.note,
    )


def _thread_ids(parsed: ParsedMail) -> list[str]:
    ids = [parsed.in_reply_to, *parsed.references] if parsed.in_reply_to else parsed.references
    return list(dict.fromkeys(i for i in ids if i))


def _synthetic_id(message: ForwardedMessage) -> str:
    """A stable id for a message that has none, so forwarding it twice dedupes.

    Whitespace is collapsed and the time cut to the minute because clients
    re-wrap forwarded text and many print dates without seconds.
    """
    when = message.date.strftime("%Y-%m-%dT%H:%M") if message.date else ""
    parts = [
        message.from_.email if message.from_ else "",
        when,
        " ".join(message.subject.split()),
        " ".join(message.text.split()),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()
    return f"{digest[:32]}@{SYNTHETIC_ID_DOMAIN}"


def _domain(domain: str) -> str:
    return domain.strip().strip("@").rstrip(".").lower()
